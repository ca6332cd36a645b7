#include "collectors/tls/pem.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <cerrno>

namespace mailstack {

int NoPassphrase(char*, int, int, void*) { return -1; }

Result<BioPtr> OpenRegularFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status::FromErrno(path, errno);
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(path + ": not a regular file");
  BioPtr in(BIO_new_file(path.c_str(), "r"));
  if (in == nullptr) {
    int err = errno;
    ERR_clear_error();
    return Status::FromErrno(path, err ? err : EIO);
  }
  return in;
}

Result<std::vector<X509Ptr>> ReadPemCertificates(const std::string& path) {
  MS_ASSIGN_OR_RETURN(BioPtr in, OpenRegularFile(path));
  std::vector<X509Ptr> certs;
  while (X509* c = PEM_read_bio_X509(in.get(), nullptr, NoPassphrase, nullptr)) certs.emplace_back(c);
  ERR_clear_error();  // the end of the file leaves PEM_R_NO_START_LINE
  if (certs.empty()) return Status::InvalidArgument(path + ": no PEM certificate in the file");
  return certs;
}

}  // namespace mailstack

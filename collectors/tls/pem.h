// Reading PEM files without surprises: only regular files (a FIFO or device
// would block the open), never a passphrase prompt.
#pragma once

#include <string>
#include <vector>

#include "collectors/core/status.h"
#include "collectors/tls/openssl.h"

namespace mailstack {

// For PEM reads: never ask for a passphrase (OpenSSL's default prompts on
// the terminal and would block the collector).
int NoPassphrase(char* buf, int size, int rwflag, void* u);

// Opens a regular file for reading; errors name the path and the errno text.
Result<BioPtr> OpenRegularFile(const std::string& path);

// Every certificate of a PEM file, in order (a fullchain's leaf first).
// Errors: the file cannot be opened, or "<path>: no PEM certificate in the file".
Result<std::vector<X509Ptr>> ReadPemCertificates(const std::string& path);

}  // namespace mailstack

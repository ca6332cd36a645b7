// Forwarding header: the TLS helpers now live in collectors/tls/. Kept only
// for collectors/dns_collector.cc (being moved to its own folder); include
// collectors/tls/pem.h there instead and delete this file.
#pragma once

#include "collectors/tls/certificate_metrics.h"
#include "collectors/tls/pem.h"
#include "collectors/tls/verify.h"

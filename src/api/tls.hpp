// SPDX-License-Identifier: MIT
// DRIVER: the API's TLS material (OpenSSL): a self-signed certificate made on first use, a server
// context loaded from a certificate chain and key, and a certificate's SHA-256 fingerprint (what a
// client pins when it cannot verify a self-signed certificate).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ssl/context.hpp>
#include <openssl/types.h>

#include "base/error.hpp"

namespace paddock::api {

struct tls_files {
    std::string cert; // PEM: the certificate, then any intermediates
    std::string key;  // PEM: its private key
};

// `dir`/cert.pem and `dir`/key.pem (0600), made when either is missing: an EC P-256 key and a
// certificate valid for ten years, for the DNS names and IP addresses in `names`.
result<tls_files> ensure_self_signed(const std::string& dir, const std::vector<std::string>& names);

// A server context for HTTP/1.1 over TLS 1.2 or 1.3 from `f`; errors name the file and OpenSSL's
// reason (missing file, not PEM, key not matching the certificate).
result<std::shared_ptr<boost::asio::ssl::context>> load_tls(const tls_files& f);

// The SHA-256 of the first certificate in a PEM file, as "AB:CD:...".
result<std::string> cert_fingerprint(const std::string& cert_pem_path);
// The same of a certificate in memory ("" for none): what a client pinning a fingerprint compares.
std::string fingerprint_of(X509* cert);

// "AB:CD:..." of 32 bytes, or "" when `s` is not a SHA-256 fingerprint (colons, spaces and case
// are ignored, so the outputs of paddockd, openssl and browsers all compare equal).
std::string normalize_fingerprint(const std::string& s);

} // namespace paddock::api

// SPDX-License-Identifier: MIT
// DRIVER: TLS material with OpenSSL 3.
#include "api/tls.hpp"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <sys/stat.h>

#include <boost/asio/ip/address.hpp>
#include <boost/system/system_error.hpp>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/durable_file.hpp"

namespace paddock::api {
namespace asio = boost::asio;

namespace {

// OpenSSL's last error as a sentence ("" when none is queued).
std::string ossl_reason()
{
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        out = buf; // the last one is the most specific
    }
    return out;
}

failure tls_fail(std::string what)
{
    auto r = ossl_reason();
    return fail(errc::tls, r.empty() ? what : what + ": " + r);
}

template <class T, void (*Free)(T*)>
struct owned {
    T* p;
    explicit owned(T* x) : p(x) {}
    ~owned() { Free(p); }
    owned(const owned&) = delete;
    owned& operator=(const owned&) = delete;
};
using pkey_ptr = owned<EVP_PKEY, EVP_PKEY_free>;
using x509_ptr = owned<X509, X509_free>;
using bio_ptr = owned<BIO, BIO_free_all>;

bool exists(const std::string& p)
{
    struct stat st{};
    return ::stat(p.c_str(), &st) == 0;
}

std::string bio_text(BIO* b)
{
    char* data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    return std::string(data, static_cast<std::size_t>(n));
}

bool add_ext(X509* x, int nid, const std::string& value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (!e)
        return false;
    bool ok = X509_add_ext(x, e, -1) == 1;
    X509_EXTENSION_free(e);
    return ok;
}

} // namespace

result<tls_files> ensure_self_signed(const std::string& dir, const std::vector<std::string>& names)
{
    tls_files f{dir + "/cert.pem", dir + "/key.pem"};
    if (exists(f.cert) && exists(f.key))
        return f;
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        return fail(errc::tls, "create " + dir + ": " + std::strerror(errno));
    pkey_ptr key(EVP_EC_gen("P-256"));
    if (!key.p)
        return tls_fail("generate an EC P-256 key");
    x509_ptr x(X509_new());
    std::string san;
    for (auto& n : names) {
        if (n.empty() || n.find_first_of(", \n") != std::string::npos)
            continue;
        boost::system::error_code ec;
        asio::ip::make_address(n, ec);
        if (san.find((ec ? "DNS:" : "IP:") + n + ",") != std::string::npos)
            continue;
        san += (ec ? "DNS:" : "IP:") + n + ",";
    }
    if (!san.empty())
        san.pop_back();
    unsigned char serial[16];
    RAND_bytes(serial, sizeof serial);
    serial[0] &= 0x7f; // positive
    BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
    bool made = x.p && bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x.p)) && X509_set_version(x.p, 2) &&
                X509_gmtime_adj(X509_getm_notBefore(x.p), -3600) &&
                X509_gmtime_adj(X509_getm_notAfter(x.p), 10L * 366 * 24 * 3600) && X509_set_pubkey(x.p, key.p);
    BN_free(bn);
    if (!made)
        return tls_fail("make a certificate");
    const std::string cn = "paddockd" + (names.empty() ? std::string() : " on " + names.front());
    X509_NAME* subject = X509_get_subject_name(x.p);
    X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Paddock"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(x.p, subject);
    if (!add_ext(x.p, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_ext(x.p, NID_key_usage, "critical,digitalSignature") ||
        !add_ext(x.p, NID_ext_key_usage, "serverAuth") || !add_ext(x.p, NID_subject_key_identifier, "hash") ||
        (!san.empty() && !add_ext(x.p, NID_subject_alt_name, san)))
        return tls_fail("add the certificate's extensions (" + san + ")");
    if (X509_sign(x.p, key.p, EVP_sha256()) == 0)
        return tls_fail("sign the certificate");
    bio_ptr kb(BIO_new(BIO_s_mem())), cb(BIO_new(BIO_s_mem()));
    if (!PEM_write_bio_PrivateKey(kb.p, key.p, nullptr, nullptr, 0, nullptr, nullptr) || !PEM_write_bio_X509(cb.p, x.p))
        return tls_fail("encode the key and certificate");
    if (auto st = write_file_durably(f.key, bio_text(kb.p), 0600, errc::tls); !st)
        return st.error();
    if (auto st = write_file_durably(f.cert, bio_text(cb.p), 0644, errc::tls); !st)
        return st.error();
    return f;
}

result<std::shared_ptr<asio::ssl::context>> load_tls(const tls_files& f)
{
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    ERR_clear_error();
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                     asio::ssl::context::single_dh_use);
    boost::system::error_code ec;
    ctx->use_certificate_chain_file(f.cert, ec);
    if (ec)
        return fail(errc::tls, "tls.cert " + f.cert + ": " + (errno == ENOENT && !exists(f.cert) ? "no such file" : ec.message()));
    ctx->use_private_key_file(f.key, asio::ssl::context::pem, ec);
    if (ec)
        return fail(errc::tls, "tls.key " + f.key + ": " + (!exists(f.key) ? "no such file" : ec.message()));
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
        return tls_fail("tls.key " + f.key + " does not belong to tls.cert " + f.cert);
    SSL_CTX_set_options(ctx->native_handle(), SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
    return ctx;
}

result<std::string> cert_fingerprint(const std::string& path)
{
    FILE* fp = std::fopen(path.c_str(), "re");
    if (!fp)
        return fail(errc::tls, "open " + path + ": " + std::strerror(errno));
    x509_ptr x(PEM_read_X509(fp, nullptr, nullptr, nullptr));
    std::fclose(fp);
    if (!x.p)
        return tls_fail(path + ": not a PEM certificate");
    std::string digest = fingerprint_of(x.p);
    if (digest.empty())
        return tls_fail("digest of " + path);
    return digest;
}

std::string fingerprint_of(X509* cert)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!cert || X509_digest(cert, EVP_sha256(), md, &n) != 1)
        return {};
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned int i = 0; i < n; ++i) {
        if (i)
            out += ':';
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

std::string normalize_fingerprint(const std::string& s)
{
    std::string digits;
    for (char c : s) {
        if (c == ':' || c == ' ')
            continue;
        if (!std::isxdigit(static_cast<unsigned char>(c)))
            return {};
        digits += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    if (digits.size() != 64)
        return {};
    std::string out;
    for (std::size_t i = 0; i < 64; i += 2) {
        if (i)
            out += ':';
        out += digits.substr(i, 2);
    }
    return out;
}

} // namespace paddock::api

// SPDX-License-Identifier: MIT
// DRIVER: the `paddock` command's HTTP(S) and WebSocket client.
#include "cli/client.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "api/tls.hpp"
#include <openssl/x509.h>

namespace paddock::cli {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

bool is_ip(const std::string& host)
{
    boost::system::error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

std::string host_header(const api_url& u)
{
    std::string h = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
    return h + ":" + u.port;
}

} // namespace

client_settings local_settings(const conf::config& cfg)
{
    client_settings s;
    s.url.tls = cfg.tls.mode != "off";
    s.url.host = cfg.listen_host == "0.0.0.0" ? "127.0.0.1" : cfg.listen_host == "::" ? "::1" : cfg.listen_host;
    s.url.port = std::to_string(cfg.listen_port);
    if (s.url.tls) {
        const std::string cert = cfg.tls.mode == "files" ? cfg.tls.cert : cfg.state_dir + "/tls/cert.pem";
        if (auto fp = api::cert_fingerprint(cert))
            s.fingerprint = *fp;
    }
    if (cfg.auth == "token") {
        std::ifstream tf(cfg.state_dir + "/api-token");
        if (tf)
            std::getline(tf, s.token);
    }
    return s;
}

client::client(client_settings s) : s_(std::move(s)), seen_(std::make_shared<std::string>())
{
    if (!s_.url.tls)
        return;
    tls_ = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    tls_->set_options(asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                      asio::ssl::context::no_tlsv1_1);
    tls_->set_verify_mode(asio::ssl::verify_peer);
    if (!s_.fingerprint.empty()) {
        // Pinned: the server's own certificate must have this digest; the chain does not matter.
        tls_->set_verify_callback([pin = s_.fingerprint, seen = seen_](bool, asio::ssl::verify_context& vc) {
            X509_STORE_CTX* x = vc.native_handle();
            if (X509_STORE_CTX_get_error_depth(x) > 0)
                return true;
            *seen = api::fingerprint_of(X509_STORE_CTX_get_current_cert(x));
            return *seen == pin;
        });
        return;
    }
    boost::system::error_code ec;
    if (!s_.cacert.empty())
        tls_->load_verify_file(s_.cacert, ec);
    else
        tls_->set_default_verify_paths(ec);
    tls_->set_verify_callback(asio::ssl::host_name_verification(s_.url.host));
}

asio::awaitable<result<api::conn_stream>> client::connect()
{
    auto ex = co_await asio::this_coro::executor;
    tcp::resolver resolver(ex);
    beast::tcp_stream stream(ex);
    stream.expires_after(s_.timeout);
    auto [rec, eps] = co_await resolver.async_resolve(s_.url.host, s_.url.port, use_tuple);
    if (rec)
        co_return fail(errc::timeout, "cannot resolve " + s_.url.host + ": " + rec.message());
    auto [cec, ep] = co_await stream.async_connect(eps, use_tuple);
    if (cec)
        co_return fail(errc::timeout, "cannot connect to " + host_header(s_.url) + ": " + cec.message() +
                                          (cec == asio::error::connection_refused ? " (is paddockd running there?)" : ""));
    stream.expires_never();
    if (!tls_)
        co_return api::conn_stream(std::move(stream));
    if (!s_.cacert.empty() && ::access(s_.cacert.c_str(), R_OK) != 0)
        co_return fail(errc::tls, "--cacert " + s_.cacert + ": " + std::strerror(errno));
    api::conn_stream conn(std::move(stream), tls_);
    // (No conditional expressions with temporaries in these coroutines: g++ 12 frees them twice.)
    std::string sni;
    if (!is_ip(s_.url.host))
        sni = s_.url.host;
    auto ec = co_await conn.handshake(std::chrono::duration_cast<std::chrono::milliseconds>(s_.timeout), true, sni);
    if (ec) {
        std::string why = "TLS with " + host_header(s_.url) + " failed: " + ec.message();
        if (!s_.fingerprint.empty() && !seen_->empty() && *seen_ != s_.fingerprint)
            why = "the server's certificate has SHA-256 fingerprint " + *seen_ + ", not the " + s_.fingerprint +
                  " given with --fingerprint: not connecting";
        else if (s_.fingerprint.empty() && ec.category() == asio::error::get_ssl_category())
            why += " (a self-signed daemon: pass --fingerprint with the SHA-256 paddockd logs at start, or --cacert "
                   "with its certificate)";
        co_return fail(errc::tls, why);
    }
    co_return std::move(conn);
}

asio::awaitable<result<reply>> client::request(http::verb method, std::string target, std::string body,
                                               std::chrono::seconds timeout)
{
    auto conn = co_await connect();
    if (!conn)
        co_return conn.error();
    http::request<http::string_body> req(method, target, 11);
    req.set(http::field::host, host_header(s_.url));
    req.set(http::field::user_agent, "paddock/" PADDOCK_VERSION);
    if (!s_.token.empty())
        req.set(http::field::authorization, "Bearer " + s_.token);
    if (!body.empty()) {
        req.set(http::field::content_type, "application/json");
        req.body() = std::move(body);
    }
    req.keep_alive(false);
    req.prepare_payload();
    conn->expires_after(timeout.count() > 0 ? timeout : s_.timeout);
    auto [wec, wn] = co_await http::async_write(*conn, req, use_tuple);
    if (wec)
        co_return fail(errc::timeout, "sending " + std::string(target) + ": " + wec.message());
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256 << 20);
    auto [rec, rn] = co_await http::async_read(*conn, buf, parser, use_tuple);
    if (rec)
        co_return fail(errc::timeout, "no answer to " + std::string(req.method_string()) + " " + std::string(target) + ": " +
                                          rec.message());
    conn->shutdown_send();
    co_return reply{static_cast<int>(parser.get().result_int()), std::move(parser.get().body())};
}

asio::awaitable<result<reply>> client::upload(std::string target, std::string path,
                                              std::function<void(std::uint64_t, std::uint64_t)> progress)
{
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        co_return fail(errc::invalid_field, path + ": " + std::strerror(errno));
    struct closer {
        int fd;
        ~closer() { ::close(fd); }
    } close_fd{fd};
    struct stat st{};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        co_return fail(errc::invalid_field, path + ": not a regular file");
    const auto total = static_cast<std::uint64_t>(st.st_size);
    auto conn = co_await connect();
    if (!conn)
        co_return conn.error();
    std::string head = "PUT " + target + " HTTP/1.1\r\nHost: " + host_header(s_.url) +
                       "\r\nUser-Agent: paddock/" PADDOCK_VERSION "\r\nContent-Type: application/octet-stream\r\n"
                       "Content-Length: " + std::to_string(total) + "\r\nConnection: close\r\n";
    if (!s_.token.empty())
        head += "Authorization: Bearer " + s_.token + "\r\n";
    head += "\r\n";
    conn->expires_after(s_.timeout);
    auto [hec, hn] = co_await asio::async_write(*conn, asio::buffer(head), use_tuple);
    std::vector<char> chunk(1 << 20);
    std::uint64_t sent = 0;
    bool write_failed = static_cast<bool>(hec);
    while (!write_failed && sent < total) {
        ssize_t n = ::pread(fd, chunk.data(), chunk.size(), static_cast<off_t>(sent));
        if (n <= 0)
            co_return fail(errc::invalid_field, path + ": read failed at byte " + std::to_string(sent) + ": " +
                                                    (n < 0 ? std::strerror(errno) : "the file shrank"));
        conn->expires_after(s_.timeout); // per chunk: a slow link is fine, a stalled one is not
        auto [ec, w] = co_await asio::async_write(*conn, asio::buffer(chunk.data(), static_cast<std::size_t>(n)), use_tuple);
        if (ec) {
            write_failed = true; // the daemon may have refused early: its answer is read below
            break;
        }
        sent += static_cast<std::uint64_t>(n);
        if (progress)
            progress(sent, total);
    }
    // The answer (the daemon hashes and checks the image before it answers: give it time).
    conn->expires_after(s_.timeout + std::chrono::seconds(total >> 27)); // + 1 s per 128 MiB
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    auto [rec, rn] = co_await http::async_read(*conn, buf, res, use_tuple);
    if (rec && write_failed)
        co_return fail(errc::timeout, "the upload broke off after " + std::to_string(sent) + " bytes: " + rec.message());
    if (rec)
        co_return fail(errc::timeout, "no answer after the upload: " + rec.message());
    co_return reply{static_cast<int>(res.result_int()), std::move(res.body())};
}

asio::awaitable<result<std::unique_ptr<client::websocket>>> client::open_websocket(std::string target)
{
    auto conn = co_await connect();
    if (!conn)
        co_return conn.error();
    auto ws = std::make_unique<websocket>(std::move(*conn));
    ws->set_option(boost::beast::websocket::stream_base::decorator([this](boost::beast::websocket::request_type& r) {
        r.set(http::field::user_agent, "paddock/" PADDOCK_VERSION);
        if (!s_.token.empty())
            r.set(http::field::authorization, "Bearer " + s_.token);
    }));
    boost::beast::websocket::response_type res;
    ws->next_layer().expires_after(s_.timeout);
    auto [ec] = co_await ws->async_handshake(res, host_header(s_.url), target, use_tuple);
    if (ec) {
        if (res.result_int() != 0 && res.result_int() != 101)
            co_return fail(res.result_int() == 404 ? errc::not_found : res.result_int() == 409 ? errc::conflict : errc::invalid_state,
                           api_message(res.body()));
        co_return fail(errc::timeout, "WebSocket " + target + ": " + ec.message());
    }
    ws->next_layer().tcp().expires_never();
    ws->set_option(boost::beast::websocket::stream_base::timeout::suggested(boost::beast::role_type::client));
    co_return std::move(ws);
}

} // namespace paddock::cli

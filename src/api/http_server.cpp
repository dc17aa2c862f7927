// SPDX-License-Identifier: MIT
// DRIVER: Beast HTTP listener and sessions.
#include "api/http_server.hpp"

#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "api/ws_events.hpp"
#include "base/log.hpp"

namespace paddock::api {
namespace asio = boost::asio;  // from <boost/asio.hpp>
namespace beast = boost::beast; // from <boost/beast.hpp>
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct http_server::state {
    asio::any_io_executor ex;
    tcp::acceptor acceptor;
    const context& ctx;
    http_limits limits;
    std::set<beast::tcp_stream*> sessions;

    state(asio::any_io_executor e, const context& c, http_limits l) : ex(e), acceptor(e), ctx(c), limits(l) {}
};

namespace {

http::response<http::string_body> to_beast(const response& r, unsigned version, bool keep_alive, bool head)
{
    http::response<http::string_body> res{static_cast<http::status>(r.status), version};
    res.set(http::field::server, "paddockd");
    res.set(http::field::content_type, r.content_type);
    res.set("X-Content-Type-Options", "nosniff");
    for (auto& [k, v] : r.headers)
        res.set(k, v);
    res.keep_alive(keep_alive);
    res.body() = r.body;
    res.prepare_payload();
    if (head)
        res.body().clear(); // Content-Length stays that of the GET body
    return res;
}

// Maps a read failure to the reply it deserves, or no reply (status 0) for a vanished peer.
response read_failure(const beast::error_code& ec, const http_limits& lim)
{
    if (ec == http::error::body_limit)
        return error(413, "payload_too_large", "request body exceeds " + std::to_string(lim.body_bytes) + " bytes");
    if (ec == http::error::header_limit)
        return error(431, "header_too_large", "request header exceeds " + std::to_string(lim.header_bytes) + " bytes");
    if (ec.category() == beast::error_code(http::error::bad_method).category() && ec != http::error::end_of_stream &&
        ec != http::error::partial_message)
        return error(400, "bad_request", "malformed HTTP request: " + ec.message());
    return response{0, {}, {}, {}};
}

asio::awaitable<void> session(std::shared_ptr<http_server::state> st, tcp::socket sock)
{
    beast::tcp_stream stream(std::move(sock));
    st->sessions.insert(&stream);
    beast::flat_buffer buf;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(st->limits.header_bytes));
        parser.body_limit(st->limits.body_bytes);
        // The whole request (header and body) must arrive within the read timeout.
        stream.expires_after(st->limits.read_timeout);
        auto [ec, n] = co_await http::async_read(stream, buf, parser, use_tuple);
        if (ec) {
            response r = read_failure(ec, st->limits);
            if (r.status != 0) {
                stream.expires_after(st->limits.write_timeout);
                auto res = to_beast(r, 11, false, false);
                co_await http::async_write(stream, res, use_tuple);
            }
            break;
        }
        auto& req = parser.get();
        if (req.target() == "/api/v1/events" || req.target().starts_with("/api/v1/events?")) {
            // The event stream: auth (header, or ?token= for browsers) before the upgrade.
            auto q = parse_events_query(req.target());
            const bool allowed = authorized(st->ctx, std::string(req[http::field::authorization])) ||
                                 (q && !q->token.empty() && authorized(st->ctx, "Bearer " + q->token));
            response r;
            if (!allowed) {
                r = error(401, "unauthorized", "missing or wrong token: send 'Authorization: Bearer <token>' or ?token=<token>");
                r.headers.emplace_back("WWW-Authenticate", "Bearer");
            }
            else if (!q)
                r = error(400, to_string(q.error().code), q.error().message);
            else if (!beast::websocket::is_upgrade(req)) {
                r = error(426, "upgrade_required", "GET /api/v1/events is a WebSocket: send Upgrade: websocket");
                r.headers.emplace_back("Upgrade", "websocket");
            }
            else if (!st->ctx.bus)
                r = error(404, "not_found", "no event stream here");
            else {
                log::debug("http", "GET ", req.target(), " -> WebSocket");
                st->sessions.erase(&stream);
                ws_limits wl{st->limits.ws_max_frames, st->limits.ws_max_bytes, st->limits.ws_close_grace};
                co_await serve_events(std::move(stream), parser.release(), *st->ctx.bus, std::move(*q), wl, st->sessions);
                co_return;
            }
            log::debug("http", req.method_string(), " /api/v1/events -> ", r.status);
            auto res = to_beast(r, req.version(), false, false);
            stream.expires_after(st->limits.write_timeout);
            co_await http::async_write(stream, res, use_tuple);
            break;
        }
        request in;
        in.method = std::string(req.method_string());
        in.target = std::string(req.target());
        in.authorization = std::string(req[http::field::authorization]);
        in.body = std::move(req.body());
        bool head = req.method() == http::verb::head;
        response r = co_await handle(st->ctx, std::move(in));
        log::debug("http", req.method_string(), " ", req.target(), " -> ", r.status);
        auto res = to_beast(r, req.version(), req.keep_alive(), head);
        stream.expires_after(st->limits.write_timeout);
        auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
        if (wec || !res.keep_alive())
            break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    st->sessions.erase(&stream);
}

} // namespace

http_server::http_server(asio::any_io_executor ex, const tcp::endpoint& ep, const context& ctx, http_limits limits)
    : st_(std::make_shared<state>(ex, ctx, limits))
{
    st_->acceptor.open(ep.protocol());
    st_->acceptor.set_option(asio::socket_base::reuse_address(true));
    st_->acceptor.bind(ep);
    st_->acceptor.listen(asio::socket_base::max_listen_connections);
}

tcp::endpoint http_server::local_endpoint() const { return st_->acceptor.local_endpoint(); }

asio::awaitable<void> http_server::run()
{
    auto st = st_;
    for (;;) {
        auto [ec, sock] = co_await st->acceptor.async_accept(use_tuple);
        auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none || ec == asio::error::operation_aborted)
            break;
        if (ec) {
            // Out of fds or similar: log, pause briefly, never spin.
            log::warn("http", "accept failed: ", ec.message());
            asio::steady_timer t(st->ex, std::chrono::milliseconds(100));
            co_await t.async_wait(use_tuple);
            continue;
        }
        if (st->sessions.size() >= st->limits.max_connections) {
            log::warn("http", "connection limit ", st->limits.max_connections, " reached; closing a new connection");
            continue; // sock closes here
        }
        asio::co_spawn(st->ex, session(st, std::move(sock)), [](std::exception_ptr e) {
            if (!e)
                return;
            try {
                std::rethrow_exception(e);
            }
            catch (const std::exception& x) {
                log::error("http", "session failed: ", x.what());
            }
        });
    }
    // Close every open session so shutdown does not wait for idle clients.
    for (auto* s : st->sessions)
        s->cancel();
}

} // namespace paddock::api

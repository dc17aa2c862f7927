// SPDX-License-Identifier: MIT
// DRIVER: Beast HTTP listener and sessions.
#include "api/http_server.hpp"

#include <cstdlib>
#include <span>

#include <array>
#include <map>
#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/serialize.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "api/conn_stream.hpp"
#include "api/http_metrics.hpp"
#include "api/routes.hpp"
#include "api/ws_console.hpp"
#include "api/ws_vnc.hpp"
#include "api/ws_events.hpp"
#include "base/log.hpp"

namespace paddock::api {
namespace asio = boost::asio;  // from <boost/asio.hpp>
namespace beast = boost::beast; // from <boost/beast.hpp>
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
using namespace asio::experimental::awaitable_operators;

struct http_server::state {
    asio::any_io_executor ex;
    tcp::acceptor acceptor;
    const context& ctx;
    http_limits limits;
    std::shared_ptr<session_registry> sessions = std::make_shared<session_registry>();
    std::map<asio::ip::address, std::size_t> per_client; // open connections by peer address
    std::shared_ptr<asio::ssl::context> tls;              // null: plain HTTP

    state(asio::any_io_executor e, const context& c, http_limits l) : ex(e), acceptor(e), ctx(c), limits(l) {}
};

namespace {

// Counts one connection against its peer's limit for as long as it is open (HTTP or WebSocket).
struct client_slot {
    std::shared_ptr<http_server::state> st; // coroutine frames may be destroyed in any order at shutdown
    asio::ip::address peer;
    client_slot(std::shared_ptr<http_server::state> s, asio::ip::address a) : st(std::move(s)), peer(a) { ++st->per_client[peer]; }
    ~client_slot()
    {
        if (--st->per_client[peer] == 0)
            st->per_client.erase(peer);
    }
};

double seconds_since(std::chrono::steady_clock::time_point t0)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Writes a reply: the head (api::response_head) and the body as one gather write, the body
// straight from `r` (no copy). Beast's serializer is not used here: at tens of thousands of small
// replies a second, walking its per-field buffer sequence cost more than building the head.
asio::awaitable<bool> write_response(conn_stream& stream, const response& r, unsigned version, bool keep_alive,
                                     bool head, std::chrono::milliseconds timeout)
{
    const std::string& body = r.shared_body ? *r.shared_body : r.body;
    const std::string h = response_head(r, version, keep_alive, body.size());
    std::array<asio::const_buffer, 2> bufs{asio::buffer(h), asio::buffer(body.data(), head ? 0 : body.size())};
    stream.expires_after(timeout);
    auto [ec, n] = co_await asio::async_write(stream, bufs, use_tuple);
    if (ec)
        log::debug("http", "reply not sent (", n, " of ", h.size() + bufs[1].size(), " bytes): ", ec.message());
    co_return !ec;
}

// What upgrade() returns once it has served the WebSocket: no reply to send.
response served()
{
    response r;
    r.status = 0;
    return r;
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
    return served(); // nothing to send
}

// A WebSocket upgrade on a WebSocket route: auth (header, or ?token= for browsers), then the
// route's own checks, then the upgrade. Returns the refusal to send, or status 0 when served.
asio::awaitable<response> upgrade(std::shared_ptr<http_server::state> st, conn_stream& stream,
                                  http::request_parser<http::string_body>& parser, const route_match& m)
{
    auto& req = parser.get();
    const std::string_view target(req.target().data(), req.target().size());
    const std::string_view auth(req[http::field::authorization].data(), req[http::field::authorization].size());
    if (!authorized_upgrade(st->ctx, auth, target))
        co_return unauthorized();
    const std::string_view origin(req[http::field::origin].data(), req[http::field::origin].size());
    const std::string_view host(req[http::field::host].data(), req[http::field::host].size());
    if (auto r = cross_origin_refusal(st->ctx, "GET", origin, host, true))
        co_return *r;
    ws_limits wl{st->limits.ws_max_frames, st->limits.ws_max_bytes, st->limits.ws_close_grace};
    if (m.def->id == route_id::events) {
        auto q = parse_events_query(target);
        if (!q)
            co_return error(400, to_string(q.error().code), q.error().message);
        if (!st->ctx.bus)
            co_return error(404, "not_found", "no event stream here");
        log::debug("http", "GET ", target, " -> WebSocket");
        co_await serve_events(std::move(stream), parser.release(), *st->ctx.bus, std::move(*q), wl, st->sessions,
                              st->ctx.http);
        co_return served();
    }
    for (auto [k, v] : query_params(target))
        if (k != "token")
            co_return error(400, "invalid_field", std::string(k) + ": unknown parameter (token)");
    if (m.def->id == route_id::vnc) {
        auto path = st->ctx.svc->vnc(m.param);
        if (!path)
            co_return error(status_for(path.error().code), to_string(path.error().code), path.error().message);
        auto vnc = co_await connect_vnc(*path, std::chrono::seconds(2));
        if (!vnc)
            co_return error(status_for(vnc.error().code), to_string(vnc.error().code), vnc.error().message);
        log::debug("http", "GET ", target, " -> WebSocket (VNC)");
        co_await serve_vnc(std::move(stream), parser.release(), std::move(*vnc), wl, st->sessions, st->ctx.http);
        co_return served();
    }
    auto hub = st->ctx.svc->console(m.param);
    if (!hub)
        co_return error(status_for(hub.error().code), to_string(hub.error().code), hub.error().message);
    log::debug("http", "GET ", target, " -> WebSocket");
    co_await serve_console(std::move(stream), parser.release(), std::move(*hub), wl, st->sessions, st->ctx.http);
    co_return served();
}

// A page-aligned buffer of a fixed size.
class page_buffer {
public:
    explicit page_buffer(std::size_t n) : p_(static_cast<char*>(std::aligned_alloc(4096, n))), n_(n) {}
    ~page_buffer() { std::free(p_); }
    page_buffer(const page_buffer&) = delete;
    page_buffer& operator=(const page_buffer&) = delete;
    char* data() const { return p_; }
    std::span<char> span() const { return {p_, n_}; }
    void swap(page_buffer& o) noexcept
    {
        std::swap(p_, o.p_);
        std::swap(n_, o.n_);
    }

private:
    char* p_;
    std::size_t n_;
};

// The next piece of a streamed body into `chunk`: its size, 0 at the end of the body.
asio::awaitable<std::pair<beast::error_code, std::size_t>> read_chunk(conn_stream& stream, beast::flat_buffer& buf,
                                                                      http::request_parser<http::buffer_body>& p,
                                                                      std::span<char> chunk, std::chrono::milliseconds idle)
{
    while (!p.is_done()) {
        p.get().body().data = chunk.data();
        p.get().body().size = chunk.size();
        stream.expires_after(idle); // an idle limit per chunk, not one for the whole upload
        auto [ec, n] = co_await http::async_read(stream, buf, p, use_tuple);
        if (ec && ec != http::error::need_buffer)
            co_return std::pair{ec, std::size_t{0}};
        if (const std::size_t got = chunk.size() - p.get().body().size; got > 0)
            co_return std::pair{beast::error_code{}, got};
    }
    co_return std::pair{beast::error_code{}, std::size_t{0}};
}

// (A helper: g++ 12 rejects braced lists inside coroutine bodies.)
std::size_t smallest(std::uint64_t a, std::uint64_t b, std::uint64_t c)
{
    return static_cast<std::size_t>(std::min({a, b, c}));
}

// The next piece of a body of known length (`left` bytes still to come) into `chunk`, first from
// what the header read left in `buf`, then straight from the socket; 0 at the end of the body.
asio::awaitable<std::pair<beast::error_code, std::size_t>> read_sized(conn_stream& stream, beast::flat_buffer& buf,
                                                                      std::uint64_t& left, std::span<char> chunk,
                                                                      std::chrono::milliseconds idle)
{
    std::size_t filled = 0;
    if (buf.size() > 0 && left > 0) {
        filled = smallest(buf.size(), left, chunk.size());
        asio::buffer_copy(asio::buffer(chunk.data(), filled), buf.data());
        buf.consume(filled);
        left -= filled;
    }
    while (filled < chunk.size() && left > 0) {
        const std::size_t want = smallest(chunk.size() - filled, left, chunk.size());
        stream.expires_after(idle); // an idle limit per read, not one for the whole upload
        auto [ec, n] = co_await stream.async_read_some(asio::buffer(chunk.data() + filled, want), use_tuple);
        if (ec)
            co_return std::pair{ec, std::size_t{0}};
        filled += n;
        left -= n;
    }
    co_return std::pair{beast::error_code{}, filled};
}

// Where an upload's body comes from: a Content-Length body straight from the socket, a chunked
// one through the parser.
struct body_source {
    bool sized;
    std::uint64_t left = 0;
    std::optional<http::request_parser<http::buffer_body>> parser;

    explicit body_source(http::request_parser<http::empty_body>& head)
        : sized(head.content_length().has_value() && !head.chunked())
    {
        if (sized)
            left = *head.content_length();
        else {
            parser.emplace(std::move(head));
            parser->body_limit(boost::none);
        }
    }
};

// The next piece of the body into `chunk` (0 at its end).
asio::awaitable<std::pair<beast::error_code, std::size_t>> read_piece(body_source& b, conn_stream& stream,
                                                                      beast::flat_buffer& buf, std::span<char> chunk,
                                                                      std::chrono::milliseconds idle)
{
    if (b.sized)
        return read_sized(stream, buf, b.left, chunk, idle);
    return read_chunk(stream, buf, *b.parser, chunk, idle);
}

// PUT /api/v1/images/{name}: auth and the name before any of the body is taken, then the body
// streamed in chunks into the image store (each chunk on disk before the next is read: the
// client's pace is the disk's); `100 Continue` when the client waits for it. Returns status 0 when
// the client went away (the store then keeps nothing).
asio::awaitable<response> receive_upload(std::shared_ptr<http_server::state> st, conn_stream& stream,
                                         beast::flat_buffer& buf, http::request_parser<http::empty_body>& head)
{
    auto& req = head.get();
    const std::string_view target(req.target().data(), req.target().size());
    if (!authorized(st->ctx, std::string_view(req[http::field::authorization].data(), req[http::field::authorization].size())))
        co_return unauthorized();
    if (auto r = cross_origin_refusal(st->ctx, "PUT", std::string_view(req[http::field::origin].data(), req[http::field::origin].size()),
                                      std::string_view(req[http::field::host].data(), req[http::field::host].size()), false))
        co_return *r;
    auto m = match_route(path_of(target));
    if (!m.def || m.def->id != route_id::image)
        co_return error(404, "not_found", "no route for " + std::string(path_of(target)));
    auto up = st->ctx.svc->begin_upload(m.param, head.content_length() ? std::optional<std::uint64_t>(*head.content_length())
                                                                       : std::nullopt);
    if (!up)
        co_return error(status_for(up.error().code), to_string(up.error().code), up.error().message);
    if (beast::iequals(req[http::field::expect], "100-continue")) {
        static const std::string cont = "HTTP/1.1 100 Continue\r\n\r\n";
        stream.expires_after(st->limits.write_timeout);
        auto [cec, cn] = co_await asio::async_write(stream, asio::buffer(cont), use_tuple);
        if (cec)
            co_return served();
    }
    // Two buffers, used in turn for the whole upload: the disk writes (and hashes) one chunk
    // while the next arrives in the other. (A fresh 1 MiB buffer per chunk cost a fresh mapping
    // and its page faults for every MiB.) A body with a Content-Length is read straight from the
    // socket into the chunk (Beast's parser would copy every byte through its buffer: that was
    // most of the daemon's CPU time per uploaded GiB); a chunked one goes through the parser.
    // Page-aligned buffers: full chunks can go to the disk without a copy into the page cache.
    body_source body(head);
    page_buffer piece(1 << 20), next(1 << 20);
    auto [ec, n] = co_await read_piece(body, stream, buf, piece.span(), st->limits.read_timeout);
    while (!ec && n > 0) {
        auto writing = (*up)->write(std::string_view(piece.data(), n));
        auto reading = read_piece(body, stream, buf, next.span(), st->limits.read_timeout);
        auto [written, got] = co_await (std::move(writing) && std::move(reading));
        piece.swap(next);
        if (!written)
            co_return error(status_for(written.error().code), to_string(written.error().code), written.error().message);
        ec = got.first;
        n = got.second;
    }
    if (ec) {
        log::info("http", "upload ", m.param, " ended early: ", ec.message());
        co_return served();
    }
    auto made = co_await (*up)->finish();
    if (!made)
        co_return error(status_for(made.error().code), to_string(made.error().code), made.error().message);
    response r;
    r.status = 201;
    r.body = boost::json::serialize(*made);
    co_return r;
}

// `slot` counts the connection against its peer's limit for as long as this runs.
asio::awaitable<void> session(std::shared_ptr<http_server::state> st, conn_stream stream,
                             [[maybe_unused]] std::shared_ptr<client_slot> slot)
{
    // At shutdown a connection waiting for a request (or receiving an upload) is cancelled; one whose
    // request is being answered gets its reply, then closes.
    bool answering = false;
    const auto on_close = [&stream, &answering] {
        if (!answering)
            stream.cancel();
    };
    st->sessions->insert(&stream, on_close);
    if (co_await stream.handshake(st->limits.read_timeout)) {
        st->sessions->erase(&stream);
        co_return; // not TLS, or gone: nothing can be answered
    }
    beast::flat_buffer buf;
    for (;;) {
        if (st->sessions->closing())
            break;
        // The header first: an image upload streams its body; everything else reads it whole.
        http::request_parser<http::empty_body> head_parser;
        head_parser.header_limit(static_cast<std::uint32_t>(st->limits.header_bytes));
        head_parser.body_limit(boost::none); // checked below, per kind of request
        // The whole request (header and body) must arrive within the read timeout.
        stream.expires_after(st->limits.read_timeout);
        auto [hec, hn] = co_await http::async_read_header(stream, buf, head_parser, use_tuple);
        if (hec) {
            response r = read_failure(hec, st->limits);
            if (r.status != 0)
                co_await write_response(stream, r, 11, false, false, st->limits.write_timeout);
            break;
        }
        if (head_parser.get().method() == http::verb::put &&
            std::string_view(head_parser.get().target().data(), head_parser.get().target().size()).starts_with("/api/v1/images/")) {
            const auto t0 = std::chrono::steady_clock::now();
            const unsigned version = head_parser.get().version();
            const std::string path(path_of(std::string_view(head_parser.get().target().data(), head_parser.get().target().size())));
            response r = co_await receive_upload(st, stream, buf, head_parser);
            if (r.status == 0)
                break; // the client went away mid-upload
            if (st->ctx.http)
                st->ctx.http->record(match_route(path).def, false, "PUT", r.status, seconds_since(t0));
            // Keep the connection only when the whole body was read (a success).
            const bool keep = r.status == 201 && head_parser.get().keep_alive();
            if (!co_await write_response(stream, r, version, keep, false, st->limits.write_timeout) || !keep)
                break;
            continue;
        }
        if (auto len = head_parser.content_length(); len && *len > st->limits.body_bytes) {
            response r = read_failure(http::error::body_limit, st->limits);
            co_await write_response(stream, r, 11, false, false, st->limits.write_timeout);
            break;
        }
        http::request_parser<http::string_body> parser(std::move(head_parser));
        parser.body_limit(st->limits.body_bytes);
        auto [ec, n] = co_await http::async_read(stream, buf, parser, use_tuple);
        if (ec) {
            response r = read_failure(ec, st->limits);
            if (r.status != 0) {
                co_await write_response(stream, r, 11, false, false, st->limits.write_timeout);
            }
            break;
        }
        const auto t0 = std::chrono::steady_clock::now();
        auto& req = parser.get();
        const std::string_view target(req.target().data(), req.target().size());
        const std::string_view path = path_of(target);
        const bool is_protected = protected_path(path);
        route_match m; // (no conditional expression with a temporary in a coroutine: g++ 12 frees it twice)
        if (is_protected)
            m = match_route(path);
        if (m.def && m.def->websocket && req.method() == http::verb::get && beast::websocket::is_upgrade(req)) {
            st->sessions->erase(&stream); // the WebSocket registers itself
            response r = co_await upgrade(st, stream, parser, m);
            if (r.status == 0)
                co_return; // served
            st->sessions->insert(&stream, on_close);
            if (st->ctx.http)
                st->ctx.http->record(m.def, false, "GET", r.status, seconds_since(t0));
            log::debug("http", "GET ", path, " (upgrade) -> ", r.status);
            co_await write_response(stream, r, req.version(), false, false, st->limits.write_timeout);
            break;
        }
        request in;
        in.method = std::string(req.method_string());
        in.target = std::string(target);
        in.authorization = std::string(req[http::field::authorization]);
        in.origin = std::string(req[http::field::origin]);
        in.host = std::string(req[http::field::host]);
        if (!is_protected) {
            in.if_none_match = std::string(req[http::field::if_none_match]);
            in.accept_encoding = std::string(req[http::field::accept_encoding]);
        }
        in.body = std::move(req.body());
        bool head = req.method() == http::verb::head;
        answering = true;
        response r = co_await handle(st->ctx, std::move(in));
        if (st->ctx.http)
            st->ctx.http->record(m.def, !is_protected, req.method_string(), r.status, seconds_since(t0));
        log::debug("http", req.method_string(), " ", path, " -> ", r.status);
        const bool keep_alive = req.keep_alive() && !st->sessions->closing();
        const bool sent = co_await write_response(stream, r, req.version(), keep_alive, head, st->limits.write_timeout);
        answering = false;
        if (!sent || !keep_alive)
            break;
    }
    stream.shutdown_send();
    st->sessions->erase(&stream);
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

void http_server::use_tls(std::shared_ptr<asio::ssl::context> ctx) { st_->tls = std::move(ctx); }

bool http_server::tls() const { return st_->tls != nullptr; }

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
        if (st->sessions->size() >= st->limits.max_connections) {
            log::warn("http", "connection limit ", st->limits.max_connections, " reached; closing a new connection");
            if (st->ctx.http)
                ++st->ctx.http->refused_total;
            continue; // sock closes here
        }
        boost::system::error_code pec;
        auto peer = sock.remote_endpoint(pec).address();
        if (pec)
            continue; // gone already
        if (auto it = st->per_client.find(peer); it != st->per_client.end() && it->second >= st->limits.max_per_client) {
            log::warn("http", "client ", peer.to_string(), " has ", it->second, " connections open (the limit); closing a new one");
            if (st->ctx.http)
                ++st->ctx.http->refused_per_client;
            continue;
        }
        // No Nagle delay: a reply's last segment (a TLS record after the head's, a WebSocket frame)
        // must not wait for the client's delayed ACK (40 ms a reply over TLS before this).
        sock.set_option(tcp::no_delay(true), pec);
        auto slot = std::make_shared<client_slot>(st, peer);
        auto stream = st->tls ? conn_stream(beast::tcp_stream(std::move(sock)), st->tls)
                              : conn_stream(beast::tcp_stream(std::move(sock)));
        asio::co_spawn(st->ex, session(st, std::move(stream), std::move(slot)), [](std::exception_ptr e) {
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
    stop();
}

void http_server::stop()
{
    boost::system::error_code ignored;
    st_->acceptor.close(ignored);
    st_->sessions->close_all();
}

asio::awaitable<void> http_server::closed(std::chrono::milliseconds limit)
{
    auto st = st_;
    const auto until = std::chrono::steady_clock::now() + limit;
    asio::steady_timer t(st->ex);
    while (st->sessions->size() > 0 && std::chrono::steady_clock::now() < until) {
        t.expires_after(std::chrono::milliseconds(10));
        co_await t.async_wait(use_tuple);
    }
}

} // namespace paddock::api

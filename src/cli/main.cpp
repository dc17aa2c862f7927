// SPDX-License-Identifier: MIT
// `paddock`: the command-line client of paddockd's API.
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/json.hpp>

#include "api/tls.hpp"
#include "cli/client.hpp"
#include "cli/commands.hpp"
#include "conf/config.hpp"

namespace {
using namespace paddock;
using namespace paddock::cli;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

int say_error(const std::string& msg, int code)
{
    std::cerr << "paddock: " << msg << "\n";
    return code;
}

int code_for(const failure& f)
{
    switch (f.code) {
    case errc::not_found: return exit_not_found;
    case errc::conflict: return exit_conflict;
    case errc::invalid_field: return exit_usage;
    case errc::timeout:
    case errc::tls: return exit_unreachable;
    default: return exit_api;
    }
}

// The daemon's config: --config, else /etc/paddock/paddockd.json when there is one, else the
// embedded defaults (a daemon started from a checkout with no config).
result<conf::config> daemon_config(const invocation& inv)
{
    std::string path = inv.get("config");
    const bool given = !path.empty();
    if (!given)
        path = "/etc/paddock/paddockd.json";
    std::ifstream f(path);
    if (!f) {
        if (given)
            return fail(errc::invalid_field, "--config " + path + ": " + std::strerror(errno));
        return conf::defaults();
    }
    std::stringstream ss;
    ss << f.rdbuf();
    auto c = conf::parse_config(ss.str());
    if (!c)
        return fail(errc::invalid_field, path + ": " + c.error().message);
    return c;
}

// Where and how to reach the daemon: --url or PADDOCK_URL, else the config's listen address
// (a local daemon with TLS: its certificate's fingerprint is pinned, read from its file); the
// token from PADDOCK_TOKEN, else the config's state_dir.
result<client_settings> settings_for(const invocation& inv)
{
    auto cfg = daemon_config(inv);
    if (!cfg)
        return cfg.error();
    client_settings s = local_settings(*cfg);
    std::string url = inv.get("url");
    if (url.empty())
        if (const char* e = std::getenv("PADDOCK_URL"); e && *e)
            url = e;
    if (!url.empty()) {
        auto u = parse_url(url);
        if (!u)
            return u.error();
        s.url = *u;
        s.fingerprint.clear(); // another daemon: only what the command line pins
    }
    if (inv.has("fingerprint")) {
        s.fingerprint = api::normalize_fingerprint(inv.get("fingerprint"));
        if (s.fingerprint.empty())
            return fail(errc::invalid_field, "--fingerprint: \"" + inv.get("fingerprint") +
                                                 "\" is not a SHA-256 fingerprint (64 hex digits, colons allowed)");
    }
    s.cacert = inv.get("cacert");
    if (inv.has("timeout")) {
        char* end = nullptr;
        long t = std::strtol(inv.get("timeout").c_str(), &end, 10);
        if (*end || t < 1 || t > 86400)
            return fail(errc::invalid_field, "--timeout: \"" + inv.get("timeout") + "\" is not 1 to 86400 seconds");
        s.timeout = std::chrono::seconds(t);
    }
    if (const char* t = std::getenv("PADDOCK_TOKEN"); t && *t)
        s.token = t;
    return s;
}

// Prints a reply: JSON as it came with --json, else `human` (given null for an empty reply); an
// error reply as the API's message.
int show(const result<reply>& r, bool as_json, const std::function<std::string(const json::value&)>& human)
{
    if (!r)
        return say_error(r.error().message, code_for(r.error()));
    if (r->status < 200 || r->status >= 300) {
        std::string msg = api_message(r->body);
        if (r->status == 401)
            msg += " (set PADDOCK_TOKEN, or run as a user who can read the daemon's state_dir/api-token)";
        return say_error(msg.empty() ? "HTTP " + std::to_string(r->status) : msg, exit_for_status(r->status));
    }
    if (as_json) {
        std::cout << r->body << (r->body.ends_with('\n') ? "" : "\n");
        return exit_ok;
    }
    if (r->body.empty()) { // 204 (a DELETE): `human` says what was done
        std::cout << human(json::value());
        return exit_ok;
    }
    boost::system::error_code ec;
    auto v = json::parse(r->body, ec);
    if (ec) {
        std::cout << r->body;
        return exit_ok;
    }
    std::cout << human(v);
    return exit_ok;
}

std::string names_only(const json::value& v, std::string_view key)
{
    std::string out;
    if (auto* a = v.is_object() ? v.get_object().if_contains(key) : nullptr; a && a->is_array())
        for (auto& x : a->get_array())
            if (auto* n = x.is_object() ? x.get_object().if_contains("name") : nullptr; n && n->is_string())
                out += std::string(n->get_string()) + "\n";
    return out;
}

// The raw terminal of `console`: no echo, no line editing, no signals from keys (Ctrl-C goes to
// the guest); restored on every way out.
class raw_terminal {
public:
    raw_terminal()
    {
        if (!::isatty(0) || ::tcgetattr(0, &saved_) != 0)
            return;
        termios t = saved_;
        ::cfmakeraw(&t);
        active_ = ::tcsetattr(0, TCSANOW, &t) == 0;
    }
    ~raw_terminal()
    {
        if (active_)
            ::tcsetattr(0, TCSANOW, &saved_);
    }
    raw_terminal(const raw_terminal&) = delete;
    raw_terminal& operator=(const raw_terminal&) = delete;

private:
    termios saved_{};
    bool active_ = false;
};

void write_all(int fd, const char* p, std::size_t n)
{
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= static_cast<std::size_t>(w);
    }
}

// Why a WebSocket ended: the server's close reason, else the error.
std::string closed_why(const client::websocket& ws, const beast::error_code& ec)
{
    if (ws.reason().reason.empty())
        return ec.message();
    return std::string(ws.reason().reason.c_str());
}

asio::awaitable<std::string> console_output(client::websocket& ws)
{
    beast::flat_buffer buf;
    for (;;) {
        auto [ec, n] = co_await ws.async_read(buf, use_tuple);
        if (ec) {
            co_return "console closed: " + closed_why(ws, ec);
        }
        const std::string text = beast::buffers_to_string(buf.data());
        write_all(1, text.data(), text.size());
        buf.consume(buf.size());
    }
}

asio::awaitable<std::string> console_input(client::websocket& ws, asio::posix::stream_descriptor& in)
{
    char data[4096];
    ws.binary(true);
    for (;;) {
        auto [ec, n] = co_await in.async_read_some(asio::buffer(data), use_tuple);
        if (ec)
            co_return "input ended";
        std::string_view chunk(data, n);
        const auto quit = chunk.find('\x1d'); // Ctrl-]
        if (quit != std::string_view::npos)
            chunk = chunk.substr(0, quit);
        if (!chunk.empty()) {
            auto [wec, wn] = co_await ws.async_write(asio::buffer(chunk.data(), chunk.size()), use_tuple);
            if (wec)
                co_return "console closed: " + wec.message();
        }
        if (quit != std::string_view::npos) {
            co_await ws.async_close(beast::websocket::close_code::normal, use_tuple);
            co_return "";
        }
    }
}

asio::awaitable<int> console(client& c, const std::string& name)
{
    auto ws = co_await c.open_websocket("/api/v1/vms/" + name + "/console");
    if (!ws)
        co_return say_error(ws.error().message, code_for(ws.error()));
    asio::posix::stream_descriptor in(co_await asio::this_coro::executor, ::dup(0));
    std::string why;
    {
        raw_terminal raw;
        if (::isatty(1))
            std::cerr << "Connected to " << name << "'s console; Ctrl-] leaves.\r\n" << std::flush;
        auto done = co_await (console_output(**ws) || console_input(**ws, in));
        why = done.index() == 0 ? std::get<0>(done) : std::get<1>(done);
    }
    if (!why.empty() && why != "input ended")
        std::cerr << "\r\npaddock: " << why << "\n";
    else if (::isatty(1))
        std::cerr << "\r\n";
    co_return exit_ok;
}

asio::awaitable<int> events(client& c, const invocation& inv)
{
    std::string q;
    auto add = [&q](const std::string& k, const std::string& v) { q += (q.empty() ? "?" : "&") + k + "=" + v; };
    if (inv.has("since")) {
        auto n = whole_number("since", inv.get("since"));
        if (!n)
            co_return say_error(n.error().message, exit_usage);
        add("since", std::to_string(*n));
    }
    if (auto it = inv.opts.find("type"); it != inv.opts.end()) {
        std::string types;
        for (auto& t : it->second)
            types += (types.empty() ? "" : ",") + t;
        add("types", types);
    }
    if (inv.has("vm"))
        add("vm", inv.get("vm"));
    long limit = -1;
    if (inv.has("count")) {
        auto n = whole_number("count", inv.get("count"));
        if (!n)
            co_return say_error(n.error().message, exit_usage);
        limit = *n;
    }
    auto ws = co_await c.open_websocket("/api/v1/events" + q);
    if (!ws)
        co_return say_error(ws.error().message, code_for(ws.error()));
    beast::flat_buffer buf;
    for (long seen = 0; limit < 0 || seen < limit; ++seen) {
        auto [ec, n] = co_await (*ws)->async_read(buf, use_tuple);
        if (ec)
            co_return say_error("event stream ended: " + closed_why(**ws, ec), exit_unreachable);
        std::string text = beast::buffers_to_string(buf.data());
        buf.consume(buf.size());
        if (inv.has("json"))
            std::cout << text << "\n";
        else {
            boost::system::error_code pec;
            auto v = json::parse(text, pec);
            if (pec)
                std::cout << text << "\n";
            else
                std::cout << event_line(v) << "\n";
        }
        std::cout.flush();
    }
    co_return exit_ok;
}

asio::awaitable<int> push(client& c, const invocation& inv)
{
    const std::string file = inv.args.at(0);
    std::string name = file.substr(file.rfind('/') + 1);
    if (inv.args.size() > 1)
        name = inv.args[1];
    const bool bar = inv.has("progress") || ::isatty(1);
    const auto t0 = std::chrono::steady_clock::now();
    auto last = t0 - std::chrono::seconds(1);
    auto secs = [&t0] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
    winsize w{};
    const std::size_t width = ::ioctl(2, TIOCGWINSZ, &w) == 0 && w.ws_col > 20 ? w.ws_col : 80;
    auto r = co_await c.upload("/api/v1/images/" + name, file, [&](std::uint64_t sent, std::uint64_t total) {
        const auto now = std::chrono::steady_clock::now();
        if (!bar || (now - last < std::chrono::milliseconds(200) && sent < total))
            return;
        last = now;
        std::cerr << "\r" << progress_line(sent, total, secs(), width) << (sent >= total ? "\n" : "") << std::flush;
    });
    co_return show(r, inv.has("json"), [&](const json::value& v) {
        return "pushed " + name + "\n" + key_values(v);
    });
}

// POST /api/v1/vms/NAME/ACTION for every NAME; the worst exit code.
asio::awaitable<int> post_each(client& c, const invocation& inv, std::string action, std::string body)
{
    int rc = exit_ok;
    std::chrono::seconds t(0);
    if (inv.has("stop-timeout"))
        t = std::chrono::seconds(std::strtol(inv.get("stop-timeout").c_str(), nullptr, 10) + 30);
    else if (action == "stop" || action == "restart")
        t = std::chrono::seconds(90); // the daemon waits for the guest first
    for (auto& n : inv.args) {
        auto r = co_await c.request(http::verb::post, "/api/v1/vms/" + n + "/" + action, body, t);
        int one = show(r, inv.has("json"), [&n](const json::value& v) {
            auto* st = v.is_object() ? v.get_object().if_contains("state") : nullptr;
            return n + ": " + (st && st->is_string() ? std::string(st->get_string()) : std::string("done")) + "\n";
        });
        if (one != exit_ok)
            rc = one;
    }
    co_return rc;
}

asio::awaitable<int> run(invocation inv)
{
    auto s = settings_for(inv);
    if (!s)
        co_return say_error(s.error().message, code_for(s.error()));
    client c(*s);
    const std::string path(inv.cmd->path);
    const bool as_json = inv.has("json");
    using V = http::verb;
    if (path == "vm ls") {
        auto r = co_await c.request(V::get, "/api/v1/vms");
        co_return show(r, as_json, [&](const json::value& v) { return inv.has("quiet") ? names_only(v, "vms") : vm_table(v); });
    }
    if (path == "vm info") {
        auto r = co_await c.request(V::get, "/api/v1/vms/" + inv.args[0]);
        co_return show(r, as_json, key_values);
    }
    if (path == "vm create") {
        auto body = create_body(inv);
        if (!body)
            co_return say_error(body.error().message, exit_usage);
        auto r = co_await c.request(V::post, "/api/v1/vms", json::serialize(*body), std::chrono::seconds(120));
        co_return show(r, as_json, [](const json::value& v) { return key_values(v); });
    }
    if (path == "vm set") {
        json::object b;
        for (auto [opt, key] : {std::pair<const char*, const char*>{"cpus", "cpus"}, {"memory", "memory_mib"}})
            if (inv.has(opt)) {
                char* end = nullptr;
                long n = std::strtol(inv.get(opt).c_str(), &end, 10);
                if (*end || inv.get(opt).empty())
                    co_return say_error(std::string("--") + opt + ": \"" + inv.get(opt) + "\" is not a whole number", exit_usage);
                b[key] = n;
            }
        if (inv.has("autostart"))
            b["autostart"] = inv.get("autostart");
        if (b.empty())
            co_return say_error("`paddock vm set` needs --cpus, --memory or --autostart", exit_usage);
        auto r = co_await c.request(V::patch, "/api/v1/vms/" + inv.args[0], json::serialize(b));
        co_return show(r, as_json, key_values);
    }
    if (path == "vm start" || path == "vm pause" || path == "vm resume")
        co_return co_await post_each(c, inv, path.substr(3), "");
    if (path == "vm stop") {
        json::object b;
        if (inv.has("force"))
            b["force"] = true;
        if (inv.has("stop-timeout")) {
            auto n = whole_number("stop-timeout", inv.get("stop-timeout"));
            if (!n)
                co_return say_error(n.error().message, exit_usage);
            b["timeout_s"] = *n;
        }
        std::string body; // (no conditional expression with a temporary in a coroutine: g++ 12 frees it twice)
        if (!b.empty())
            body = json::serialize(b);
        co_return co_await post_each(c, inv, "stop", std::move(body));
    }
    if (path == "vm restart") {
        json::object b;
        if (inv.has("stop-timeout")) {
            auto n = whole_number("stop-timeout", inv.get("stop-timeout"));
            if (!n)
                co_return say_error(n.error().message, exit_usage);
            b["timeout_s"] = *n;
        }
        std::string body;
        if (!b.empty())
            body = json::serialize(b);
        co_return co_await post_each(c, inv, "restart", std::move(body));
    }
    if (path == "vm rm" || path == "images rm") {
        const std::string base = path == "vm rm" ? "/api/v1/vms/" : "/api/v1/images/";
        int rc = exit_ok;
        for (auto& n : inv.args) {
            auto r = co_await c.request(V::delete_, base + n);
            int one = show(r, as_json, [&n](const json::value&) { return "removed " + n + "\n"; });
            if (one != exit_ok)
                rc = one;
        }
        co_return rc;
    }
    if (path == "forward ls") {
        auto r = co_await c.request(V::get, "/api/v1/vms/" + inv.args[0] + "/forwards");
        co_return show(r, as_json, forward_table);
    }
    if (path == "forward add" || path == "forward rm") {
        const bool add = path == "forward add";
        std::vector<forward_arg> todo;
        for (std::size_t i = 1; i < inv.args.size(); ++i) {
            const std::string& a = inv.args[i];
            if (!add && a.find_first_of(":@") != std::string::npos)
                co_return say_error("\"" + a + "\": give the protocol and host port only, like tcp/8080", exit_usage);
            auto f = parse_forward_arg(a);
            if (!f)
                co_return say_error(f.error().message, exit_usage);
            todo.push_back(std::move(*f));
        }
        int rc = exit_ok;
        for (auto& f : todo) {
            const std::string where = "/api/v1/vms/" + inv.args[0] + "/forwards/" + f.proto + "/" + f.host_port;
            std::string body;
            if (add)
                body = json::serialize(f.body);
            auto r = co_await c.request(add ? V::put : V::delete_, where, std::move(body));
            const std::string what = f.proto + "/" + f.host_port;
            int one = show(r, as_json, [&](const json::value& v) {
                if (!add)
                    return "removed " + what + "\n";
                auto* g = v.is_object() ? v.get_object().if_contains("guest_port") : nullptr;
                auto* l = v.is_object() ? v.get_object().if_contains("listen") : nullptr;
                return "forwarding " + what + (l && l->is_string() ? " on " + std::string(l->get_string()) : std::string()) +
                       " to " + inv.args[0] + " port " + (g ? json::serialize(*g) : std::string("?")) + "\n";
            });
            if (one != exit_ok)
                rc = one;
        }
        co_return rc;
    }
    if (path == "console")
        co_return co_await console(c, inv.args[0]);
    if (path == "events")
        co_return co_await events(c, inv);
    if (path == "images ls") {
        auto r = co_await c.request(V::get, "/api/v1/images");
        co_return show(r, as_json, [&](const json::value& v) { return inv.has("quiet") ? names_only(v, "images") : image_table(v); });
    }
    if (path == "images push")
        co_return co_await push(c, inv);
    if (path == "leases")
        co_return show(co_await c.request(V::get, "/api/v1/leases"), as_json, lease_table);
    if (path == "net")
        co_return show(co_await c.request(V::get, "/api/v1/network"), as_json, key_values);
    if (path == "health")
        co_return show(co_await c.request(V::get, "/api/v1/health"), as_json, key_values);
    co_return say_error("`" + path + "` is not implemented", exit_usage);
}

} // namespace

int main(int argc, char** argv)
{
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() == 1 && args[0] == "--version") {
        std::cout << "paddock " PADDOCK_VERSION "\n";
        return 0;
    }
    auto inv = parse(args);
    if (!inv) {
        std::cerr << "paddock: " << inv.error().message << "\n";
        return exit_usage;
    }
    if (!inv->cmd) {
        (inv->help ? std::cout : std::cerr) << general_help();
        return inv->help ? exit_ok : exit_usage;
    }
    if (inv->help) {
        std::cout << command_help(*inv->cmd);
        return exit_ok;
    }
    ::signal(SIGPIPE, SIG_IGN);
    asio::io_context ioc{1};
    int rc = exit_api;
    asio::co_spawn(ioc, run(std::move(*inv)), [&rc](std::exception_ptr e, int r) {
        rc = r;
        if (e) {
            try {
                std::rethrow_exception(e);
            }
            catch (const std::exception& x) {
                std::cerr << "paddock: " << x.what() << "\n";
                rc = exit_api;
            }
        }
    });
    ioc.run();
    std::cout.flush();
    return rc;
}

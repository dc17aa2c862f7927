// SPDX-License-Identifier: MIT
// `paddockd shutdown-vms`: before the host powers off, every running VM gets the graceful stop
// (guest agent, ACPI power button, forced after the timeout) through the running daemon's API, all
// at once, each marked to be started again when the daemon next starts ("restore").
#include "app/shutdown_vms.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "cli/client.hpp"

namespace paddock::app {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

namespace {

struct reply {
    int status = 0; // 0: no answer (the message says why)
    std::string body;
};

// One request to the daemon's API (HTTP, or HTTPS with its certificate pinned) within `timeout`.
reply call(const conf::config& cfg, const std::string& token, http::verb method, const std::string& target,
           const std::string& body, std::chrono::seconds timeout)
{
    cli::client_settings s = cli::local_settings(cfg);
    s.token = token;
    s.timeout = timeout;
    cli::client c(s);
    asio::io_context ioc;
    result<cli::reply> r;
    asio::co_spawn(ioc, c.request(method, target, body, timeout), [&r](std::exception_ptr e, result<cli::reply> got) {
        r = e ? result<cli::reply>(fail(errc::timeout, "the request failed")) : std::move(got);
    });
    ioc.run();
    if (!r)
        return reply{0, r.error().message};
    return reply{r->status, std::move(r->body)};
}

// The API's own message from an error body, or the body.
std::string message_of(const reply& r)
{
    boost::system::error_code ec;
    auto v = json::parse(r.body, ec);
    if (!ec && v.is_object() && v.as_object().contains("error"))
        if (auto* m = v.at("error").as_object().if_contains("message"); m && m->is_string())
            return std::string(m->as_string());
    return r.body.substr(0, 300);
}

} // namespace

int run_shutdown_vms(const conf::config& cfg, int timeout_s)
{
    std::string token;
    if (cfg.auth == "token") {
        std::ifstream f(cfg.state_dir + "/api-token");
        std::getline(f, token);
        if (token.empty()) {
            std::fprintf(stderr, "paddockd shutdown-vms: cannot read %s/api-token\n", cfg.state_dir.c_str());
            return 1;
        }
    }
    auto list = call(cfg, token, http::verb::get, "/api/v1/vms", "", std::chrono::seconds(30));
    if (list.status != 200) {
        std::fprintf(stderr, "paddockd shutdown-vms: the daemon at %s:%u did not answer: %s\n", cfg.listen_host.c_str(),
                     cfg.listen_port, list.status ? message_of(list).c_str() : list.body.c_str());
        return 1;
    }
    std::vector<std::string> running;
    boost::system::error_code ec;
    auto v = json::parse(list.body, ec);
    if (!ec && v.is_object() && v.as_object().contains("vms") && v.at("vms").is_array())
        for (auto& vm : v.at("vms").as_array()) {
            const auto& o = vm.as_object();
            auto st = o.at("state").as_string();
            if (st == "running" || st == "paused" || st == "starting" || st == "stopping")
                running.emplace_back(o.at("name").as_string());
        }
    if (running.empty()) {
        std::printf("paddockd shutdown-vms: no VM is running\n");
        return 0;
    }
    std::printf("paddockd shutdown-vms: stopping %zu VM(s), %d s each before they are forced\n", running.size(), timeout_s);
    std::fflush(stdout);
    std::mutex out;
    int failed = 0;
    std::vector<std::thread> threads;
    const std::string body = "{\"timeout_s\":" + std::to_string(timeout_s) + ",\"restore\":true}";
    for (auto& name : running)
        threads.emplace_back([&, name] {
            auto t0 = std::chrono::steady_clock::now();
            auto r = call(cfg, token, http::verb::post, "/api/v1/vms/" + name + "/stop", body,
                          std::chrono::seconds(timeout_s + 30));
            auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
            std::lock_guard<std::mutex> lock(out);
            if (r.status == 200)
                std::printf("%s: stopped in %lld ms (started again when paddockd next starts, autostart permitting)\n",
                            name.c_str(), static_cast<long long>(ms));
            else if (r.status == 409) // it stopped by itself meanwhile
                std::printf("%s: %s\n", name.c_str(), message_of(r).c_str());
            else {
                ++failed;
                std::printf("%s: FAILED: %s\n", name.c_str(), r.status ? message_of(r).c_str() : r.body.c_str());
            }
            std::fflush(stdout);
        });
    for (auto& t : threads)
        t.join();
    return failed ? 1 : 0;
}

} // namespace paddock::app

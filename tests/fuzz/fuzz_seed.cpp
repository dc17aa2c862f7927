// SPDX-License-Identifier: MIT
// libFuzzer target: what a guest can send the cloud-init seed server. The bytes go through the same
// Beast request parser with the same header limit as vm/seed_server, and a complete request head
// through vm::nocloud_answer. Nothing may crash, hang or read out of bounds; the answer is one of
// 200/403/404/405, and a 200 (a seed) only ever goes to the VM's own address and MAC.
#include <cstdint>
#include <cstdlib>
#include <string>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/json/src.hpp> // header-only here: the target links no Boost library

#include "vm/nocloud.hpp"

using namespace paddock;
namespace http = boost::beast::http;

namespace {
std::optional<vm::nocloud_vm> find(const std::string& name)
{
    if (name != "web")
        return std::nullopt;
    vm::nocloud_vm v{"web", "192.168.26.11", "52:54:00:00:00:0b", "web-1796230000", {}};
    v.ci.given = true;
    v.ci.user_data = "#cloud-config\nruncmd: [true]\n";
    v.ci.ssh_authorized_keys = {"ssh-ed25519 AAAA test"};
    return v;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 1)
        return 0;
    // The first byte picks the peer: the VM itself, its address with another MAC, or a stranger.
    static const char* peers[][2] = {{"192.168.26.11", "52:54:00:00:00:0b"}, {"192.168.26.11", "52:54:00:00:00:99"},
                                     {"192.168.26.12", "52:54:00:00:00:0c"}, {"192.168.26.11", ""}};
    const auto& peer = peers[data[0] % 4];
    http::request_parser<http::empty_body> parser;
    parser.header_limit(8192);
    parser.eager(true);
    boost::beast::error_code ec;
    std::size_t used = 0;
    while (used < size - 1 && !parser.is_done()) {
        std::size_t n = parser.put(boost::asio::buffer(data + 1 + used, size - 1 - used), ec);
        if (ec == http::error::need_more && n == 0)
            return 0; // incomplete: the server waits (then times out)
        if (ec && ec != http::error::need_more)
            return 0; // malformed: the server drops the connection
        used += n;
        if (n == 0)
            break;
    }
    if (!parser.is_header_done())
        return 0;
    const auto& req = parser.get();
    auto r = vm::nocloud_answer(std::string_view(req.method_string().data(), req.method_string().size()),
                                std::string_view(req.target().data(), req.target().size()), peer[0], peer[1], find);
    if (r.status != 200 && r.status != 403 && r.status != 404 && r.status != 405)
        std::abort();
    const bool is_vm = std::string(peer[0]) == "192.168.26.11" && (std::string(peer[1]) == "52:54:00:00:00:0b" || !*peer[1]);
    if (r.status == 200 && !is_vm)
        std::abort(); // a seed handed to someone else
    if (r.body.size() > 4096)
        std::abort();
    return 0;
}

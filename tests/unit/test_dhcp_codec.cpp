// SPDX-License-Identifier: MIT
// Unit: the DHCPv4 codec on literals, edge cases and real client captures (tests/fixtures/dhcp).
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "dhcp/frame.hpp"
#include "dhcp/message.hpp"

using namespace paddock;
using namespace paddock::dhcp;

namespace {
std::vector<std::uint8_t> fixture(const std::string& name)
{
    std::ifstream f(std::string(PADDOCK_SOURCE_ROOT "/tests/fixtures/dhcp/") + name);
    REQUIRE(f);
    std::string line, hex;
    while (std::getline(f, line))
        if (!line.empty() && line[0] != '#')
            hex += line;
    std::vector<std::uint8_t> out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        out.push_back(static_cast<std::uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    return out;
}

message sample()
{
    message m;
    m.xid = 0x12345678;
    m.flags = flag_broadcast;
    m.chaddr = {0x52, 0x54, 0, 0x12, 0x34, 0x56};
    m.set_u8(opt::message_type, 1);
    m.options[opt::param_list] = {1, 3, 6, 12, 15, 28};
    m.set_string(opt::hostname, "web1");
    return m;
}
} // namespace

TEST_CASE("encode then decode gives the same message")
{
    auto m = sample();
    auto bytes = encode(m);
    CHECK(bytes.size() >= 300);
    auto d = decode(bytes);
    REQUIRE(d.ok());
    CHECK(d->xid == 0x12345678);
    CHECK(d->broadcast_flag());
    CHECK(d->mac() == "52:54:00:12:34:56");
    CHECK(d->type() == msg_type::discover);
    CHECK(d->string_option(opt::hostname) == "web1");
    CHECK(d->options.at(opt::param_list) == std::vector<std::uint8_t>{1, 3, 6, 12, 15, 28});
}

TEST_CASE("message type and server id lead the options")
{
    message m = sample();
    m.set_ip(opt::server_id, ipv4{0xC0A81A02});
    auto b = encode(m);
    CHECK(b[240] == opt::message_type);
    CHECK(b[243] == opt::server_id);
}

TEST_CASE("every truncation of a valid packet is an error or a shorter valid packet, never a crash")
{
    auto b = encode(sample());
    for (std::size_t n = 0; n < b.size(); ++n) {
        auto d = decode(std::span(b.data(), n));
        if (n < fixed_header + 4)
            CHECK_FALSE(d.ok());
    }
}

TEST_CASE("malformed headers and options are rejected with a reason")
{
    auto b = encode(sample());
    auto bad_cookie = b;
    bad_cookie[236] = 0;
    CHECK(decode(bad_cookie).error().code == errc::bad_cookie);
    auto bad_op = b;
    bad_op[0] = 7;
    CHECK(decode(bad_op).error().code == errc::bad_op);
    auto bad_hlen = b;
    bad_hlen[2] = 17;
    CHECK(decode(bad_hlen).error().code == errc::bad_hlen);
    // An option whose length runs past the end.
    std::vector<std::uint8_t> past(b.begin(), b.begin() + 240);
    past.insert(past.end(), {53, 1, 1, 12, 50, 'a'});
    CHECK(decode(past).error().code == errc::bad_option);
    // An option code with no length byte.
    std::vector<std::uint8_t> cut(b.begin(), b.begin() + 240);
    cut.insert(cut.end(), {53, 1, 1, 12});
    CHECK(decode(cut).error().code == errc::bad_option);
    CHECK(decode({}).error().code == errc::truncated);
}

TEST_CASE("a missing END is tolerated and PADs are skipped")
{
    auto b = encode(sample());
    std::vector<std::uint8_t> p(b.begin(), b.begin() + 240);
    p.insert(p.end(), {0, 0, 53, 1, 3, 0});
    auto d = decode(p);
    REQUIRE(d.ok());
    CHECK(d->type() == msg_type::request);
}

TEST_CASE("repeated options are concatenated (RFC 3396) and long options split on encode")
{
    auto b = encode(sample());
    std::vector<std::uint8_t> p(b.begin(), b.begin() + 240);
    p.insert(p.end(), {53, 1, 1, 12, 2, 'a', 'b', 12, 2, 'c', 'd', 255});
    auto d = decode(p);
    REQUIRE(d.ok());
    CHECK(d->string_option(opt::hostname) == "abcd");

    message m = sample();
    m.set_string(opt::domain, std::string(300, 'x'));
    auto big = decode(encode(m));
    REQUIRE(big.ok());
    CHECK(big->string_option(opt::domain)->size() == 300);
}

TEST_CASE("option overload (52) reads options from file and sname")
{
    auto b = encode(sample());
    std::vector<std::uint8_t> p(b.begin(), b.begin() + 240);
    // file field starts at 108, sname at 44
    p[108] = 12; p[109] = 3; p[110] = 'f'; p[111] = 'o'; p[112] = 'o'; p[113] = 255;
    p[44] = 15; p[45] = 2; p[46] = 'e'; p[47] = 'x'; p[48] = 255;
    p.insert(p.end(), {53, 1, 1, 52, 1, 3, 255});
    auto d = decode(p);
    REQUIRE(d.ok());
    CHECK(d->string_option(opt::hostname) == "foo");
    CHECK(d->string_option(opt::domain) == "ex");
    CHECK(d->file.empty());
    p[113] = 12; // now the file-field option runs off the field's end
    p[114] = 200;
    CHECK_FALSE(decode(p).ok());
}

TEST_CASE("real client captures decode with the fields the clients sent")
{
    struct row {
        const char* file;
        msg_type type;
        const char* mac;
        bool has_client_id;
    };
    row rows[] = {
        {"udhcpc_discover.hex", msg_type::discover, "52:54:00:00:00:11", true},
        {"udhcpc_request.hex", msg_type::request, "52:54:00:00:00:11", true},
        {"dhclient_discover.hex", msg_type::discover, "52:54:00:00:00:22", false},
        {"dhclient_request.hex", msg_type::request, "52:54:00:00:00:22", false},
        {"dhcpcd_discover.hex", msg_type::discover, "52:54:00:00:00:33", false},
        {"dhcpcd_request.hex", msg_type::request, "52:54:00:00:00:33", false},
    };
    for (auto& r : rows) {
        auto d = decode(fixture(r.file));
        REQUIRE_MESSAGE(d.ok(), r.file);
        CHECK(d->type() == r.type);
        CHECK(d->mac() == r.mac);
        CHECK(d->has(opt::client_id) == r.has_client_id);
        CHECK(d->has(opt::param_list));
        if (r.type == msg_type::request) {
            CHECK(d->ip_option(opt::requested_ip).has_value());
            CHECK(d->ip_option(opt::server_id) == ipv4{0xC0A81A02});
        }
    }
    CHECK(decode(fixture("udhcpc_discover.hex"))->u16_option(opt::max_size) == 576);
}

TEST_CASE("parse_mac accepts canonical forms only")
{
    CHECK(parse_mac("52:54:00:AB:cd:0f").has_value());
    for (const char* bad : {"", "52:54:00:ab:cd", "52-54-00-ab-cd-0f", "52:54:00:ab:cd:0g", "52:54:00:ab:cd:0f:"})
        CHECK_FALSE(parse_mac(bad).has_value());
}

TEST_CASE("IPv4/UDP frames carry valid checksums")
{
    std::vector<std::uint8_t> payload{1, 2, 3, 4, 5};
    auto f = ipv4_udp_frame(ipv4{0xC0A81A02}, ipv4{0xC0A81A0A}, 67, 68, payload);
    REQUIRE(f.size() == 33);
    CHECK(inet_checksum(std::span(f.data(), 20)) == 0); // a correct header sums to zero
    std::uint32_t pseudo = 0xC0A8 + 0x1A02 + 0xC0A8 + 0x1A0A + 17 + 13;
    CHECK(inet_checksum(std::span(f.data() + 20, 13), pseudo) == 0);
    // RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 (checksum 220d).
    std::vector<std::uint8_t> rfc{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    CHECK(inet_checksum(rfc) == 0x220d);
}

// SPDX-License-Identifier: MIT
// bench/dhcp's calibration peer: a stateless DHCP responder that answers a DISCOVER with an OFFER
// and a REQUEST with an ACK at once, keeping nothing (the address is derived from the client's
// MAC). It does the least any server can do, so its completed rate is the most perfdhcp can
// measure on this machine. Relayed requests are answered to the relay on port 67.
// Build: g++ -O2 -std=c++20 -o dhcp-echo dhcp-echo.cpp. Run inside the peer namespace.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

int main()
{
    int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    int one = 1, buf = 1 << 20;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(67);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        std::perror("bind :67");
        return 1;
    }
    constexpr int n = 64, mtu = 1500;
    std::vector<std::uint8_t> in(n * mtu), out(n * 320);
    mmsghdr rx[n]{}, tx[n]{};
    iovec riov[n], tiov[n];
    sockaddr_in from[n], to[n];
    for (;;) {
        for (int i = 0; i < n; ++i) {
            riov[i] = {in.data() + i * mtu, mtu};
            rx[i].msg_hdr = {};
            rx[i].msg_hdr.msg_name = &from[i];
            rx[i].msg_hdr.msg_namelen = sizeof from[i];
            rx[i].msg_hdr.msg_iov = &riov[i];
            rx[i].msg_hdr.msg_iovlen = 1;
        }
        int got = ::recvmmsg(fd, rx, n, MSG_WAITFORONE, nullptr);
        int k = 0;
        for (int i = 0; i < got; ++i) {
            const std::uint8_t* q = in.data() + i * mtu;
            if (rx[i].msg_len < 240 || q[0] != 1)
                continue;
            int type = 0;
            for (unsigned p = 240; p + 2 < rx[i].msg_len && q[p] != 255;) {
                if (q[p] == 0) { ++p; continue; }
                if (q[p] == 53) type = q[p + 2];
                p += 2 + q[p + 1];
            }
            if (type != 1 && type != 3)
                continue;
            std::uint8_t* r = out.data() + k * 320;
            std::memset(r, 0, 320);
            std::memcpy(r, q, 240);             // xid, flags, giaddr, chaddr, cookie
            r[0] = 2;                            // BOOTREPLY
            r[16] = 10, r[17] = q[31], r[18] = q[32], r[19] = q[33]; // yiaddr from the MAC
            std::uint8_t* o = r + 240;
            *o++ = 53, *o++ = 1, *o++ = type == 1 ? 2 : 5;
            *o++ = 54, *o++ = 4, *o++ = 192, *o++ = 168, *o++ = 26, *o++ = 2;
            *o++ = 51, *o++ = 4, *o++ = 0, *o++ = 0, *o++ = 0x0e, *o++ = 0x10;
            *o++ = 1, *o++ = 4, *o++ = 255, *o++ = 255, *o++ = 255, *o++ = 0;
            *o++ = 255;
            to[k] = {};
            to[k].sin_family = AF_INET;
            std::memcpy(&to[k].sin_addr, q + 24, 4); // giaddr
            to[k].sin_port = htons(to[k].sin_addr.s_addr ? 67 : 68);
            if (!to[k].sin_addr.s_addr)
                to[k].sin_addr.s_addr = INADDR_BROADCAST;
            tiov[k] = {r, 300};
            tx[k].msg_hdr = {};
            tx[k].msg_hdr.msg_name = &to[k];
            tx[k].msg_hdr.msg_namelen = sizeof to[k];
            tx[k].msg_hdr.msg_iov = &tiov[k];
            tx[k].msg_hdr.msg_iovlen = 1;
            ++k;
        }
        if (k)
            ::sendmmsg(fd, tx, k, 0);
    }
}

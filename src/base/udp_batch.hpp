// SPDX-License-Identifier: MIT
// Batched UDP receive (recvmmsg): buffers, source addresses and optional control data for up to
// `count` IPv4 datagrams, read in one system call. The DHCP and DNS servers drain their sockets
// with it; every datagram longer than `size` is cut to `size` (the caller sees the cut length).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>

namespace paddock {

class udp_batch {
public:
    udp_batch(int count, std::size_t size, std::size_t control_size = 0);

    // Reads what is queued on `fd` without waiting: how many datagrams (0 when none, or on error).
    int receive(int fd);
    int capacity() const { return count_; }

    std::span<std::uint8_t> datagram(int k) { return {data_.data() + static_cast<std::size_t>(k) * size_, hdr_[k].msg_len}; }
    const sockaddr_in& from(int k) const { return from_[k]; }
    // The message header of datagram k (for its control data: CMSG_FIRSTHDR and friends).
    msghdr& header(int k) { return hdr_[k].msg_hdr; }

private:
    int count_;
    std::size_t size_, control_size_;
    std::vector<std::uint8_t> data_, control_;
    std::vector<mmsghdr> hdr_;
    std::vector<iovec> iov_;
    std::vector<sockaddr_in> from_;
};

} // namespace paddock

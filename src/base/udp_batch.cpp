// SPDX-License-Identifier: MIT
#include "base/udp_batch.hpp"

namespace paddock {

udp_batch::udp_batch(int count, std::size_t size, std::size_t control_size)
    : count_(count), size_(size), control_size_(control_size), data_(static_cast<std::size_t>(count) * size),
      control_(static_cast<std::size_t>(count) * control_size), hdr_(count), iov_(count), from_(count)
{
}

int udp_batch::receive(int fd)
{
    for (int i = 0; i < count_; ++i) {
        iov_[i] = {data_.data() + static_cast<std::size_t>(i) * size_, size_};
        hdr_[i] = {};
        msghdr& m = hdr_[i].msg_hdr;
        m.msg_name = &from_[i];
        m.msg_namelen = sizeof(sockaddr_in);
        m.msg_iov = &iov_[i];
        m.msg_iovlen = 1;
        if (control_size_) {
            m.msg_control = control_.data() + static_cast<std::size_t>(i) * control_size_;
            m.msg_controllen = control_size_;
        }
    }
    int got = ::recvmmsg(fd, hdr_.data(), static_cast<unsigned>(count_), MSG_DONTWAIT, nullptr);
    return got > 0 ? got : 0;
}

} // namespace paddock

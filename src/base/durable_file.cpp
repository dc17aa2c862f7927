// SPDX-License-Identifier: MIT
// DRIVER: durable small-file replacement.
#include "base/durable_file.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

namespace paddock {

status write_file_durably(const std::string& path, std::string_view text, mode_t mode, errc code)
{
    const std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return fail(code, "create " + tmp + ": " + std::strerror(errno));
    bool wrote = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!wrote || ::rename(tmp.c_str(), path.c_str()) != 0)
        return fail(code, "write " + path + ": " + std::strerror(errno));
    return ok();
}

} // namespace paddock

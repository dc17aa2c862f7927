// SPDX-License-Identifier: MIT
// DRIVER: the file thread. Console output (vm/console_hub) is kept in vms/<name>/console.log, capped: past `cap` bytes the oldest half is dropped. File
// work (appends, the rewrite when the cap is reached, reads for the API, removing a VM's folder,
// writing its seed disk and UEFI variables)
// runs on one file thread in order, so the io_context never waits on the disk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include "base/error.hpp"

namespace paddock::vm {

class file_thread {
public:
    explicit file_thread(std::size_t console_cap) : cap_(console_cap) {}
    ~file_thread() { pool_.join(); }

    // Appends `bytes` to the console log at `path` (queued; in order).
    void append(std::string path, std::string bytes);
    // The whole console log (empty when there is none).
    boost::asio::awaitable<std::string> read(std::string path);
    // Removes a folder and everything in it.
    boost::asio::awaitable<void> remove_all(std::string dir);
    // Replaces the file at `path` with `bytes` (whole: written aside, then renamed).
    boost::asio::awaitable<status> write(std::string path, std::shared_ptr<const std::vector<std::uint8_t>> bytes);
    // Copies `from` to `to` unless `to` exists.
    boost::asio::awaitable<status> copy_once(std::string from, std::string to);

private:
    std::size_t cap_;
    boost::asio::thread_pool pool_{1};
};

} // namespace paddock::vm

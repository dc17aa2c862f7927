// SPDX-License-Identifier: MIT
// DRIVER: the file thread. Console output (vm/console_hub) is kept in vms/<name>/console.log, capped: past `cap` bytes the oldest half is dropped. File
// work (appends, the rewrite when the cap is reached, reads for the API, removing a VM's folder)
// runs on one file thread in order, so the io_context never waits on the disk.
#pragma once

#include <cstddef>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

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

private:
    std::size_t cap_;
    boost::asio::thread_pool pool_{1};
};

} // namespace paddock::vm

// SPDX-License-Identifier: MIT
// DRIVER: one running VM's serial console, shared. The daemon is the only client of QEMU's console
// chardev (a unix socket); the hub reads it, appends the output to console.log (through the file
// thread) and hands every chunk to each viewer, and writes viewers' input to the guest in arrival
// order through one writer. A viewer joining gets the last output first (up to `tail_cap` bytes),
// so a terminal does not start blank. When the hub ends (QEMU exited, the VM was stopped, the daemon
// shuts down) every viewer hears why. A new QEMU gets a new hub; a daemon restart connects again.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include "base/send_queue.hpp"

namespace paddock::vm {

class file_thread;

// Why a console ended, as its viewers are told.
enum class console_end {
    vm_stopped,      // QEMU exited or closed the console
    vm_removed,      // the VM was removed
    unreachable,     // the console socket could not be reached
    daemon_stopping, // the daemon is shutting down: reconnect when it is back
};
// The sentence viewers are sent, e.g. "the VM stopped".
const char* describe(console_end why);

// What a viewer (e.g. a WebSocket) implements. Called on the io_context, never re-entrantly.
class console_viewer {
public:
    virtual ~console_viewer() = default;
    virtual void output(std::shared_ptr<const std::string> bytes) = 0;
    virtual void ended(console_end why) = 0;
};

class console_hub : public std::enable_shared_from_this<console_hub> {
public:
    static constexpr std::size_t tail_cap = 16 * 1024;
    static constexpr std::size_t input_cap = 64 * 1024; // input not yet written to the guest

    console_hub(boost::asio::any_io_executor ex, file_thread& files, std::string log_path, std::string vm);

    // Connects to the chardev socket (retrying while QEMU creates it), then reads until EOF or end().
    boost::asio::awaitable<void> run(std::string socket_path);
    // Ends the hub: closes the socket and tells every viewer `why`. Idempotent.
    void end(console_end why);

    // Adds a viewer; returns the recent output to show first.
    std::string join(const std::shared_ptr<console_viewer>& v);
    void leave(const console_viewer* v);
    // Queues bytes for the guest; false when the hub has ended or too much input is pending.
    bool input(std::string bytes);

    bool ended() const { return ended_; }
    std::size_t viewers() const { return viewers_.size(); }

private:
    boost::asio::awaitable<void> write_loop();
    void fan_out(std::shared_ptr<const std::string> chunk);

    boost::asio::any_io_executor ex_;
    file_thread& files_;
    std::string log_path_, vm_;
    boost::asio::local::stream_protocol::socket sock_;
    bool connected_ = false, ended_ = false, writing_ = false;
    std::string tail_;
    send_queue<std::string> input_; // viewers' keystrokes, written by write_loop() alone
    std::vector<std::weak_ptr<console_viewer>> viewers_;
};

} // namespace paddock::vm

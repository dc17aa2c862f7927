// SPDX-License-Identifier: MIT
// DRIVER: the image store: the files in state_dir/images a VM boots from, with their records
// (format, size, virtual size, sha256) in the store.
//
// An upload streams into a hidden temporary file (`.upload-<name>-<n>`) through one disk thread,
// hashing as it goes, after the free space was checked against its Content-Length. Only a complete
// body that qemu-img recognises as qcow2 (with no backing file) or raw (a whole number of 512-byte
// sectors) is renamed to its name and recorded; anything else, a client gone mid-way, or a failure
// removes the temporary file, so a partial upload never appears as an image. Files already in the
// folder at start are adopted (inspected and hashed in the background). The store owns the
// images' paths. An image a VM uses (its disk's backing file, or its kernel/initrd) cannot be
// removed, nor one a create holds (pinned) while it builds a VM on it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "base/error.hpp"
#include "vm/image_rules.hpp"

namespace paddock { class event_bus; }
namespace paddock::store { class writer; struct image_row; }

namespace paddock::vm {

struct image_info {
    std::string name, format, kind, sha256; // kind: disk, kernel or initrd
    std::uint64_t size = 0, virtual_size = 0;
    std::int64_t added_at = 0;
    boost::json::object to_json() const;
};

class image_store {
    struct pin_table;

public:
    // Holds an image for a VM being created, from its first check to its end; while any pin is
    // held the image cannot be removed. Released when destroyed.
    class pin {
    public:
        pin() = default;
        pin(pin&& o) noexcept = default;
        pin& operator=(pin&& o) noexcept;
        pin(const pin&) = delete;
        ~pin();

    private:
        friend class image_store;
        void release();
        std::shared_ptr<pin_table> table_; // shared: a create's frame may outlive the store at shutdown
        std::string image_, vm_;
    };

    image_store(boost::asio::any_io_executor ex, std::string dir, store::writer& writer, event_bus& bus);
    ~image_store();

    // Start-up: the recorded images (rows whose file is gone are dropped).
    void load(const std::vector<store::image_row>& rows);
    // Records the files in the folder that have no record yet (runs in the background).
    boost::asio::awaitable<void> adopt();

    boost::json::array list() const;
    result<boost::json::object> get(const std::string& name) const;

    class upload {
    public:
        ~upload(); // removes the temporary file unless finished
        // Appends a chunk (on the disk thread, hashed there); the caller keeps it until this completes.
        boost::asio::awaitable<status> write(std::string_view chunk);
        // The body is complete: inspect, rename into place, record, announce.
        boost::asio::awaitable<result<boost::json::object>> finish();

    private:
        friend class image_store;
        struct state;
        upload(image_store& s, std::string name, std::string tmp, int fd);
        image_store& store_;
        std::string name_, tmp_;
        std::unique_ptr<state> st_;
        std::uint64_t received_ = 0;
        bool done_ = false;
    };
    // Starts an upload; `length` (Content-Length) is checked against the free space. conflict
    // when the name is taken or being uploaded, invalid_field for a bad name, no_space.
    result<std::unique_ptr<upload>> begin(const std::string& name, std::optional<std::uint64_t> length);

    // The file of image `name`.
    std::string path(const std::string& name) const { return dir_ + "/" + name; }
    // Pins image `name` for VM `vm` being created; invalid_field ("<field>: no image named ...")
    // when there is none (recorded, or in the folder awaiting adoption).
    result<pin> hold(const std::string& name, const std::string& vm, const std::string& field);

    // Removes an image; conflict while a create holds it or `in_use` names a VM using it.
    boost::asio::awaitable<status> remove(std::string name, std::function<std::string(const std::string&)> in_use);

private:
    boost::asio::awaitable<result<image_info>> inspect(std::string path, std::string name, std::string sha256,
                                                       std::uint64_t size);

    boost::asio::any_io_executor ex_;
    std::string dir_;
    store::writer& writer_;
    event_bus& bus_;
    std::map<std::string, image_info> images_;
    std::map<std::string, bool> uploading_;
    std::shared_ptr<pin_table> pins_;
    unsigned next_tmp_ = 0;
    boost::asio::thread_pool disk_{1};
    boost::asio::thread_pool hasher_{1}; // an upload's hash runs beside its writes
};

} // namespace paddock::vm

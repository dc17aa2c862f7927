// SPDX-License-Identifier: MIT
// DRIVER: the image store.
#include "vm/images.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "base/event_bus.hpp"
#include "base/hex.hpp"
#include "base/log.hpp"
#include "base/time.hpp"
#include "store/rows.hpp"
#include "store/writer.hpp"
#include "vm/disk.hpp"
#include "vm/spec.hpp"

namespace paddock::vm {
namespace asio = boost::asio;
namespace json = boost::json;

json::object image_info::to_json() const
{
    return {{"name", name},     {"format", format}, {"kind", kind}, {"size", size}, {"virtual_size", virtual_size},
            {"sha256", sha256}, {"added_at", added_at > 0 ? json::value(iso8601(added_at)) : json::value(nullptr)}};
}

namespace {

// Hashes a whole file (adoption at start); empty on failure.
std::string sha256_file(const std::string& path)
{
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return {};
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    std::string buf(1 << 20, '\0');
    ssize_t n;
    while ((n = ::read(fd, buf.data(), buf.size())) > 0)
        EVP_DigestUpdate(ctx, buf.data(), static_cast<std::size_t>(n));
    ::close(fd);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    return n < 0 ? std::string() : hex_of(md, len);
}

store::image_row to_row(const image_info& i)
{
    return {i.name, i.format, i.kind, i.sha256, static_cast<std::int64_t>(i.size), static_cast<std::int64_t>(i.virtual_size),
            i.added_at};
}

asio::awaitable<std::string> hash_task(std::string path) { co_return sha256_file(path); }

// qemu-img looks at an uploaded file as nobody, with limits on CPU time (30 s), memory (2 GiB)
// and open files (64): a crafted image can neither make it open host files as root nor run it
// away. The file reaches it as its fd 3 (the state directory is 0700: nobody could not reach it by
// name). (Built outside the coroutine: g++ 12 rejects braced lists of literals in coroutine bodies.)
std::vector<std::string> info_argv()
{
    return {"prlimit",  "--cpu=30",       "--as=2147483648", "--nofile=64",    "--",   "setpriv", "--reuid=nobody",
            "--regid=nogroup", "--clear-groups", "--no-new-privs", "--",   "qemu-img", "info",    "--output=json",
            "--",       "/proc/self/fd/3"};
}

// Opens an image for the inspection; a file nobody may not read (copied in by hand) gets o+r:
// its folder keeps everyone else out.
int open_for_inspection(const std::string& path)
{
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st{};
    if (fd >= 0 && ::fstat(fd, &st) == 0 && !(st.st_mode & S_IROTH))
        ::fchmod(fd, (st.st_mode & 07777) | S_IRGRP | S_IROTH);
    return fd;
}

} // namespace

// ---- upload ----

struct image_store::upload::state {
    int fd = -1;
    int direct = -1; // the same file opened with O_DIRECT, for full aligned chunks (-1: none)
    EVP_MD_CTX* md = nullptr;
    ~state()
    {
        if (fd >= 0)
            ::close(fd);
        if (direct >= 0)
            ::close(direct);
        if (md)
            EVP_MD_CTX_free(md);
    }
};

image_store::upload::upload(image_store& s, std::string name, std::string tmp, int fd)
    : store_(s), name_(std::move(name)), tmp_(std::move(tmp)), st_(std::make_unique<state>())
{
    st_->fd = fd;
    // Full, page-aligned chunks go straight to the disk (O_DIRECT): no copy into the page cache,
    // and nothing left for the final fsync to write back. Where O_DIRECT is not supported (tmpfs),
    // every chunk goes through the page cache.
    st_->direct = ::open(tmp_.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
    st_->md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(st_->md, EVP_sha256(), nullptr);
}

image_store::upload::~upload()
{
    store_.uploading_.erase(name_);
    if (!done_) {
        ::unlink(tmp_.c_str());
        log::info("images", name_, ": upload abandoned after ", received_, " bytes; nothing kept");
    }
}

namespace {
// Runs on the disk thread: write all of `chunk` at `at`, directly when it is whole pages at a
// page-aligned place (falling back to the page cache if the file system refuses).
asio::awaitable<int> write_task(int fd, int direct, std::uint64_t at, std::string_view chunk)
{
    constexpr std::size_t page = 4096;
    if (direct >= 0 && reinterpret_cast<std::uintptr_t>(chunk.data()) % page == 0 && chunk.size() % page == 0 && at % page == 0) {
        std::size_t off = 0;
        while (off < chunk.size()) {
            ssize_t n = ::pwrite(direct, chunk.data() + off, chunk.size() - off, static_cast<off_t>(at + off));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EINVAL)
                break; // not for this file system after all: the page cache takes the rest
            if (n < 0)
                co_return errno;
            off += static_cast<std::size_t>(n);
        }
        if (off == chunk.size())
            co_return 0;
        chunk.remove_prefix(off);
        at += off;
    }
    std::size_t off = 0;
    while (off < chunk.size()) {
        ssize_t n = ::pwrite(fd, chunk.data() + off, chunk.size() - off, static_cast<off_t>(at + off));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            co_return errno;
        }
        off += static_cast<std::size_t>(n);
    }
    co_return 0;
}
// Runs on the hash thread, beside the write of the same chunk (the chunks come in order: the
// next write starts only when both are done).
asio::awaitable<void> hash_chunk(EVP_MD_CTX* md, std::string_view chunk)
{
    EVP_DigestUpdate(md, chunk.data(), chunk.size());
    co_return;
}
asio::awaitable<int> sync_task(int fd) { co_return ::fsync(fd) == 0 ? 0 : errno; }
} // namespace

asio::awaitable<status> image_store::upload::write(std::string_view chunk)
{
    const std::size_t n = chunk.size();
    using namespace asio::experimental::awaitable_operators;
    int err = co_await (asio::co_spawn(store_.disk_, write_task(st_->fd, st_->direct, received_, chunk), asio::use_awaitable) &&
                                   asio::co_spawn(store_.hasher_, hash_chunk(st_->md, chunk), asio::use_awaitable));
    if (err == ENOSPC || err == EDQUOT)
        co_return fail(errc::no_space, "the disk is full: " + std::string(std::strerror(err)));
    if (err)
        co_return fail(errc::state_dir, "write " + tmp_ + ": " + std::strerror(err));
    received_ += n;
    co_return ok();
}

asio::awaitable<result<json::object>> image_store::upload::finish()
{
    int err = co_await asio::co_spawn(store_.disk_, sync_task(st_->fd), asio::use_awaitable);
    if (err)
        co_return fail(err == ENOSPC ? errc::no_space : errc::state_dir, "fsync " + tmp_ + ": " + std::strerror(err));
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(st_->md, md, &len);
    auto info = co_await store_.inspect(tmp_, name_, hex_of(md, len), received_);
    if (!info)
        co_return info.error();
    if (store_.images_.count(name_))
        co_return fail(errc::conflict, "an image named " + name_ + " appeared meanwhile");
    const std::string final_path = store_.dir_ + "/" + name_;
    // Never replace a file that exists (e.g. copied in by hand since start).
    if (::link(tmp_.c_str(), final_path.c_str()) != 0)
        co_return fail(errno == EEXIST ? errc::conflict : errc::state_dir,
                       "cannot place " + final_path + ": " + std::strerror(errno));
    ::unlink(tmp_.c_str());
    auto row = std::make_shared<store::image_row>(to_row(*info));
    store::writer::job job = [row](store::db& h) { return store::put_image(h, *row); };
    if (auto st = co_await store_.writer_.write(std::move(job)); !st) {
        ::unlink(final_path.c_str());
        co_return st.error();
    }
    done_ = true;
    store_.images_[name_] = *info;
    auto j = info->to_json();
    log::info("images", name_, ": added (", info->format, ", ", info->size, " bytes, sha256 ", info->sha256, ")");
    store_.bus_.publish(event_type::image_added, "", image_view{j}, std::chrono::system_clock::now());
    co_return j;
}

// ---- the store ----

image_store::image_store(asio::any_io_executor ex, std::string dir, store::writer& writer, event_bus& bus)
    : ex_(ex), dir_(std::move(dir)), writer_(writer), bus_(bus), pins_(std::make_shared<pin_table>())
{
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    // Temporary files of uploads a crash interrupted.
    for (auto& e : std::filesystem::directory_iterator(dir_, ec))
        if (e.path().filename().string().starts_with(".upload-") || e.path().filename().string().starts_with(".removing-"))
            std::filesystem::remove(e.path(), ec);
}

image_store::~image_store()
{
    disk_.join();
    hasher_.join();
}

void image_store::load(const std::vector<store::image_row>& rows)
{
    for (auto& r : rows) {
        struct stat st{};
        if (::stat((dir_ + "/" + r.name).c_str(), &st) != 0 || static_cast<std::int64_t>(st.st_size) != r.size) {
            log::warn("images", r.name, ": its file is gone or changed; it will be inspected again");
            continue;
        }
        images_[r.name] = image_info{r.name, r.format, r.kind, r.sha256, static_cast<std::uint64_t>(r.size),
                                     static_cast<std::uint64_t>(r.virtual_size), r.added_at};
    }
}

asio::awaitable<result<image_info>> image_store::inspect(std::string path, std::string name, std::string sha256,
                                                         std::uint64_t size)
{
    auto argv = info_argv();
    const int file = open_for_inspection(path);
    if (file < 0)
        co_return fail(errc::invalid_image, "cannot open " + path + " for inspection");
    auto out = co_await run_tool(ex_, std::move(argv), path + ".info", std::chrono::seconds(60), file);
    ::close(file);
    ::unlink((path + ".info").c_str());
    if (!out)
        co_return fail(errc::invalid_image, "qemu-img could not read it as a disk image");
    std::string head(0x8006, '\0'); // through ISO 9660's "CD001" at 0x8001
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? ::read(fd, head.data(), head.size()) : -1;
    if (fd >= 0)
        ::close(fd);
    head.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
    auto judged = judge_image(*out, size, head);
    if (!judged)
        co_return judged.error();
    co_return image_info{name, judged->format, judged->kind, sha256, size, judged->virtual_size, unix_now()};
}

asio::awaitable<void> image_store::adopt()
{
    std::error_code ec;
    std::vector<std::string> names;
    for (auto& e : std::filesystem::directory_iterator(dir_, ec)) {
        const std::string n = e.path().filename().string();
        if (e.is_regular_file(ec) && valid_image_name(n) && !images_.count(n) && !n.ends_with(".info"))
            names.push_back(n);
    }
    for (auto& n : names) {
        const std::string path = dir_ + "/" + n;
        struct stat st{};
        if (::stat(path.c_str(), &st) != 0)
            continue;
        std::string sha = co_await asio::co_spawn(disk_, hash_task(path), asio::use_awaitable);
        auto info = co_await inspect(path, n, sha, static_cast<std::uint64_t>(st.st_size));
        if (!info) {
            log::warn("images", n, ": not adopted: ", info.error().message);
            continue;
        }
        if (images_.count(n))
            continue;
        auto row = std::make_shared<store::image_row>(to_row(*info));
        store::writer::job job = [row](store::db& h) { return store::put_image(h, *row); };
        if (auto w = co_await writer_.write(std::move(job)); !w) {
            log::warn("images", n, ": not recorded: ", w.error().message);
            continue;
        }
        images_[n] = *info;
        log::info("images", n, ": adopted (", info->format, ", ", info->size, " bytes)");
        bus_.publish(event_type::image_added, "", image_view{info->to_json()}, std::chrono::system_clock::now());
    }
}

json::array image_store::list() const
{
    json::array out;
    for (auto& [n, i] : images_)
        out.push_back(i.to_json());
    return out;
}

result<json::object> image_store::get(const std::string& name) const
{
    auto it = images_.find(name);
    if (it == images_.end())
        return fail(errc::not_found, "no image named \"" + name + "\"");
    return it->second.to_json();
}

result<std::unique_ptr<image_store::upload>> image_store::begin(const std::string& name, std::optional<std::uint64_t> length)
{
    if (!valid_image_name(name))
        return fail(errc::invalid_field, "name: \"" + name + "\" is not an image name (1 to 64 of A-Z a-z 0-9 . _ -, "
                                         "starting with a letter or digit, no \"..\")");
    if (images_.count(name) || uploading_.count(name))
        return fail(errc::conflict, "an image named " + name + " exists (or is being uploaded): delete it first");
    struct statvfs vfs{};
    if (length && ::statvfs(dir_.c_str(), &vfs) == 0) {
        const std::uint64_t free = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
        if (*length > free)
            return fail(errc::no_space, "the upload is " + std::to_string(*length) + " bytes and " + dir_ + " has " +
                                            std::to_string(free) + " free");
    }
    const std::string tmp = dir_ + "/.upload-" + name + "-" + std::to_string(++next_tmp_);
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return fail(errc::state_dir, "create " + tmp + ": " + std::strerror(errno));
    uploading_[name] = true;
    return std::unique_ptr<upload>(new upload(*this, name, tmp, fd));
}

// Pins by image, then by the VM being created (a count: a VM may boot from one image twice).
struct image_store::pin_table {
    std::map<std::string, std::map<std::string, int>> held;
};

image_store::pin& image_store::pin::operator=(pin&& o) noexcept
{
    if (this != &o) {
        release();
        table_ = std::move(o.table_);
        image_ = std::move(o.image_);
        vm_ = std::move(o.vm_);
    }
    return *this;
}

image_store::pin::~pin() { release(); }

void image_store::pin::release()
{
    if (!table_)
        return;
    auto it = table_->held.find(image_);
    if (it != table_->held.end() && --it->second[vm_] <= 0) {
        it->second.erase(vm_);
        if (it->second.empty())
            table_->held.erase(it);
    }
    table_.reset();
}

result<image_store::pin> image_store::hold(const std::string& name, const std::string& vm, const std::string& field)
{
    struct stat st{};
    const bool there = images_.count(name) ||
                       (!uploading_.count(name) && ::stat(path(name).c_str(), &st) == 0 && S_ISREG(st.st_mode));
    if (!there)
        return fail(errc::invalid_field, field + ": no image named \"" + name + "\" in " + dir_);
    // An ISO goes on the CD-ROM and only there (a disk or kernel on the CD-ROM boots nothing).
    if (auto it = images_.find(name); it != images_.end()) {
        const std::string& kind = it->second.kind;
        if (field == "cdrom" && kind != "iso")
            return fail(errc::invalid_field, "cdrom: \"" + name + "\" is a " + kind + " image, not an ISO");
        if (field != "cdrom" && kind == "iso")
            return fail(errc::invalid_field, field + ": \"" + name + "\" is an ISO: give it as \"cdrom\"");
    }
    pin p;
    p.table_ = pins_;
    p.image_ = name;
    p.vm_ = vm;
    ++pins_->held[name][vm];
    return p;
}

asio::awaitable<status> image_store::remove(std::string name, std::function<std::string(const std::string&)> in_use)
{
    auto it = images_.find(name);
    if (it == images_.end())
        co_return fail(errc::not_found, "no image named \"" + name + "\"");
    if (auto p = pins_->held.find(name); p != pins_->held.end() && !p->second.empty())
        co_return fail(errc::conflict, "image " + name + " is in use by VM " + p->second.begin()->first +
                                           ", which is being created from it");
    if (auto vm = in_use(name); !vm.empty())
        co_return fail(errc::conflict, "image " + name + " is in use by VM " + vm + ": remove the VM first");
    // Out of sight before the first suspension: a racing create finds no such image, a racing
    // delete gets 404. Put back if the record cannot be erased.
    const image_info info = it->second;
    images_.erase(it);
    const std::string path = dir_ + "/" + name, hidden = dir_ + "/.removing-" + name;
    if (::rename(path.c_str(), hidden.c_str()) != 0 && errno != ENOENT) {
        images_[name] = info;
        co_return fail(errc::state_dir, "rename " + path + ": " + std::strerror(errno));
    }
    auto n = std::make_shared<std::string>(name);
    store::writer::job job = [n](store::db& h) { return store::erase_image(h, *n); };
    if (auto st = co_await writer_.write(std::move(job)); !st) {
        ::rename(hidden.c_str(), path.c_str());
        images_[name] = info;
        co_return st;
    }
    ::unlink(hidden.c_str());
    log::info("images", name, ": removed");
    bus_.publish(event_type::image_removed, "", image_view{info.to_json()}, std::chrono::system_clock::now());
    co_return ok();
}

} // namespace paddock::vm

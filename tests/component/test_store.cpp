// SPDX-License-Identifier: MIT
// Component: the store on real SQLite files in a temporary folder (no root). The schema upgrade
// from a database made by release 0.1.0, the refusal of a newer schema, and the writer's group
// commit and rollback.
#include <doctest/doctest.h>

#include <filesystem>

#include <sqlite3.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "store/db.hpp"
#include "store/rows.hpp"
#include "store/schema.hpp"
#include "store/writer.hpp"

using namespace paddock;
namespace fs = std::filesystem;

namespace {
struct temp_dir {
    fs::path p;
    temp_dir() : p(fs::temp_directory_path() / ("paddock-store-" + std::to_string(::getpid()) + "-" + std::to_string(rand())))
    {
        fs::create_directories(p);
    }
    ~temp_dir() { fs::remove_all(p); }
};

int user_version(sqlite3* h)
{
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &s, nullptr);
    sqlite3_step(s);
    int v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return v;
}
} // namespace

TEST_CASE("a database made by release 0.1.0 is upgraded in place and keeps every row")
{
    temp_dir t;
    auto path = (t.p / "paddock.db").string();
    fs::copy_file(PADDOCK_SOURCE_ROOT "/tests/fixtures/paddock-0.1.0.db", path);
    auto d = store::db::open(path);
    REQUIRE(d.ok());
    CHECK(user_version(d->handle()) == store::schema_version());
    auto vms = store::load_vms(*d);
    REQUIRE(vms.ok());
    REQUIRE(vms->size() == 2);
    CHECK((*vms)[0].name == "old1");
    CHECK((*vms)[1].ip == "192.168.26.77");
    auto resv = store::load_reservations(*d);
    REQUIRE(resv.ok());
    CHECK(resv->size() == 3);
    // meta's ip_forward row moved to settings; its schema_version row gave way to user_version.
    auto fwd = store::get_setting(*d, "host.ip_forward_before");
    REQUIRE(fwd.ok());
    REQUIRE(fwd->has_value());
    CHECK(**fwd == "0");
    auto sv = store::get_setting(*d, "schema_version");
    REQUIRE(sv.ok());
    CHECK_FALSE(sv->has_value());
    CHECK_FALSE(d->exec("SELECT * FROM meta").ok());
    // Opening again is a no-op.
    d = store::db::open(path);
    REQUIRE(d.ok());
    CHECK(store::load_vms(*d)->size() == 2);
}

TEST_CASE("a database newer than the daemon is refused and left untouched")
{
    temp_dir t;
    auto path = (t.p / "paddock.db").string();
    {
        auto d = store::db::open(path);
        REQUIRE(d.ok());
        CHECK(d->exec("PRAGMA user_version = 99").ok());
    }
    auto d = store::db::open(path);
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().code == errc::store_failed);
    CHECK(d.error().message.find("newer") != std::string::npos);
}

TEST_CASE("the writer group-commits, and a failing job fails alone and leaves nothing")
{
    temp_dir t;
    auto d = store::db::open((t.p / "paddock.db").string());
    REQUIRE(d.ok());
    boost::asio::io_context ioc{1};
    store::writer w(ioc.get_executor(), std::move(*d));
    std::vector<status> results(4);
    for (int i = 0; i < 4; ++i) {
        store::writer::job j = [i](store::db& h) -> status {
            if (i == 2) {
                // Writes, then fails: its write must be rolled back.
                if (auto st = store::put_setting(h, "doomed", "x"); !st)
                    return st;
                return fail(errc::store_failed, "injected");
            }
            return store::put_setting(h, "k" + std::to_string(i), std::to_string(i));
        };
        // write() waits on a timer, which keeps ioc.run() going until the commit is back.
        boost::asio::co_spawn(ioc, w.write(j), [&results, i](std::exception_ptr, status st) { results[i] = st; });
    }
    ioc.run();
    CHECK(results[0].ok());
    CHECK(results[1].ok());
    CHECK_FALSE(results[2].ok());
    CHECK(results[3].ok());
    ioc.restart();
    std::optional<std::string> doomed, k3;
    store::writer::job read = [&](store::db& h) {
        doomed = *store::get_setting(h, "doomed");
        k3 = *store::get_setting(h, "k3");
        return ok();
    };
    boost::asio::co_spawn(ioc, w.write(read), [](std::exception_ptr, status) {});
    ioc.run();
    CHECK_FALSE(doomed.has_value());
    REQUIRE(k3.has_value());
    CHECK(*k3 == "3");
    CHECK(w.stats().failed_jobs == 1);
}

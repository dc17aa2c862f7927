// SPDX-License-Identifier: MIT
// Open connections counted per client and in all, for the servers a guest can reach (the
// cloud-init seed server, DNS over TCP): a connection beyond either limit is refused at once, so
// one guest can neither use up the daemon's descriptors nor crowd out the others.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>

namespace paddock {

class conn_limit {
    struct state {
        state(std::size_t total, std::size_t per_client) : total_cap(total), per_client_cap(per_client) {}
        std::size_t total_cap, per_client_cap, open = 0;
        std::uint64_t refused = 0;
        std::map<std::uint32_t, std::size_t> by_client;
    };

public:
    // Held for as long as the connection is open. (A class, not an aggregate: g++ 12 mis-compiles
    // brace-initialised aggregates in coroutine frames.)
    class slot {
    public:
        slot(std::shared_ptr<state> s, std::uint32_t client) : s_(std::move(s)), client_(client) {}
        slot(slot&& o) noexcept : s_(std::move(o.s_)), client_(o.client_) {}
        slot(const slot&) = delete;
        slot& operator=(const slot&) = delete;
        ~slot()
        {
            if (!s_)
                return;
            --s_->open;
            if (--s_->by_client[client_] == 0)
                s_->by_client.erase(client_);
        }

    private:
        std::shared_ptr<state> s_; // shared: a connection's frame may outlive its server
        std::uint32_t client_;
    };

    conn_limit(std::size_t total, std::size_t per_client) : s_(std::make_shared<state>(total, per_client)) {}

    // A slot for a new connection from `client` (an IPv4 address), or none (counted) over a limit.
    std::optional<slot> take(std::uint32_t client)
    {
        auto it = s_->by_client.find(client);
        if (s_->open >= s_->total_cap || (it != s_->by_client.end() && it->second >= s_->per_client_cap)) {
            ++s_->refused;
            return std::nullopt;
        }
        ++s_->open;
        ++s_->by_client[client];
        return std::optional<slot>(std::in_place, s_, client);
    }
    std::size_t open() const { return s_->open; }
    std::uint64_t refused() const { return s_->refused; }

private:
    std::shared_ptr<state> s_;
};

} // namespace paddock

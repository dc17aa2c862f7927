// SPDX-License-Identifier: MIT
// paddockd: command line → config → daemon or teardown. Nothing else lives here.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "conf/config.hpp"
#include "app/daemon.hpp"
#include "app/shutdown_vms.hpp"
#include "base/log.hpp"

using namespace paddock;

namespace {

const char* usage =
    "usage: paddockd [--config FILE] [--listen ADDR:PORT] [--state-dir DIR] [--www DIR] [--log-level LEVEL]\n"
    "       paddockd teardown [--config FILE] [--state-dir DIR]\n"
    "       paddockd check-config [--config FILE] [--listen ADDR:PORT] [--state-dir DIR]\n"
    "       paddockd shutdown-vms [--config FILE] [--timeout SECONDS]   (graceful stop of every VM, restored at next start)\n"
    "       paddockd --version\n"
    "Without --config the embedded defaults apply (the same as config/paddockd.json).\n";

int usage_error(const std::string& msg)
{
    std::fprintf(stderr, "paddockd: %s\n%s", msg.c_str(), usage);
    return 2;
}

} // namespace

int main(int argc, char** argv)
{
    log::use_journal_if_connected(); // a systemd service writing to the journal: structured entries
    std::string command = "run";
    std::string config_file, listen, state_dir, www = PADDOCK_WWW_DIR;
    int i = 1;
    int stop_timeout = 60;
    if (argc > 1 && (std::string_view(argv[1]) == "teardown" || std::string_view(argv[1]) == "check-config" ||
                     std::string_view(argv[1]) == "shutdown-vms")) {
        command = argv[1];
        i = 2;
    }
    for (; i < argc; ++i) {
        std::string_view a = argv[i];
        auto value = [&](std::string& out) -> bool {
            if (i + 1 >= argc)
                return false;
            out = argv[++i];
            return true;
        };
        if (a == "--version") {
            std::printf("paddockd %s\n", PADDOCK_VERSION);
            return 0;
        }
        if (a == "--help" || a == "-h") {
            std::fputs(usage, stdout);
            return 0;
        }
        std::string lvl;
        bool good = true;
        if (a == "--config") good = value(config_file);
        else if (a == "--listen") good = value(listen);
        else if (a == "--state-dir") good = value(state_dir);
        else if (a == "--www") good = value(www);
        else if (a == "--timeout" && command == "shutdown-vms") {
            std::string t;
            good = value(t);
            char* end = nullptr;
            long n = good ? std::strtol(t.c_str(), &end, 10) : 0;
            if (good && (!end || *end || n < 1 || n > 3600))
                return usage_error("--timeout must be seconds from 1 to 3600");
            stop_timeout = static_cast<int>(n);
        }
        else if (a == "--log-level") {
            good = value(lvl);
            log::level l;
            if (good && !log::parse_level(lvl, l))
                return usage_error("--log-level must be debug, info, warn or error");
            if (good)
                log::set_level(l);
        }
        else return usage_error("unknown argument '" + std::string(a) + "'");
        if (!good)
            return usage_error(std::string(a) + " needs a value");
    }

    conf::config cfg = conf::defaults();
    if (!config_file.empty()) {
        std::ifstream f(config_file);
        if (!f) {
            std::fprintf(stderr, "paddockd: cannot read config file %s: %s\n", config_file.c_str(), std::strerror(errno));
            return 1;
        }
        std::stringstream ss;
        ss << f.rdbuf();
        auto parsed = conf::parse_config(ss.str());
        if (!parsed) {
            std::fprintf(stderr, "paddockd: config %s: %s\n", config_file.c_str(), parsed.error().message.c_str());
            return 1;
        }
        cfg = *parsed;
    }
    // Flags override the file.
    if (!listen.empty())
        if (auto st = conf::set_listen(cfg, listen); !st) {
            std::fprintf(stderr, "paddockd: --%s\n", st.error().message.c_str());
            return 1;
        }
    if (!state_dir.empty())
        cfg.state_dir = state_dir;
    if (auto st = conf::validate(cfg); !st) {
        std::fprintf(stderr, "paddockd: config: %s\n", st.error().message.c_str());
        return 1;
    }
    if (command == "check-config") {
        std::printf("%s\n", conf::to_json_text(cfg).c_str());
        return 0;
    }
    if (command == "shutdown-vms")
        return app::run_shutdown_vms(cfg, stop_timeout);
    if (::geteuid() != 0) {
        std::fprintf(stderr, "paddockd: must run as root (it creates a network namespace, links and nftables rules)\n");
        return 1;
    }
    if (command == "teardown")
        return app::run_teardown(cfg);
    return app::run_daemon(cfg, app::run_options{www});
}

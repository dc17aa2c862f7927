// SPDX-License-Identifier: MIT
// CORE: QEMU command line.
#include "vm/qemu_argv.hpp"

#include <algorithm>

namespace paddock::vm {

namespace {
// QEMU option values separate sub-options with commas; a literal comma is written twice.
std::string qemu_escape(const std::string& s)
{
    std::string out;
    for (char c : s) {
        out += c;
        if (c == ',')
            out += ',';
    }
    return out;
}
} // namespace

std::vector<std::string> qemu_argv(const spec& s, const launch_params& p)
{
    const std::string dir = qemu_escape(p.vm_dir);
    std::vector<std::string> a{
        p.binary,
        "-name", "guest=" + s.name + ",process=paddock-" + s.name,
        "-nodefaults", "-no-user-config",
        "-machine", "pc,accel=" + p.accel,
    };
    // The newest CPU the accelerator offers, unless the VM names one: QEMU's default (qemu64)
    // lacks x86-64-v2, which RHEL 9-family images need.
    a.push_back("-cpu");
    a.push_back(!s.cpu_model.empty() ? s.cpu_model : p.accel == "kvm" ? "host" : "max");
    for (auto& x : std::vector<std::string>{
             "-m", std::to_string(s.memory_mib),
             "-smp", std::to_string(s.cpus),
             "-display", "none",
             // A screen for the graphical console: VGA, shown by a VNC server on a unix socket
             // in the VM's folder (never a TCP port), and a tablet so the pointer lands where
             // the browser's is.
             "-device", "VGA",
             "-vnc", "unix:" + dir + "/" + vnc_socket,
             "-device", "qemu-xhci,id=usb",
             "-device", "usb-tablet,bus=usb.0",
             "-chardev", "socket,id=console,path=" + dir + "/" + console_socket + ",server=on,wait=off",
             "-serial", "chardev:console",
             "-qmp", "unix:" + dir + "/" + qmp_socket + ",server=on,wait=off",
             "-pidfile", p.vm_dir + "/" + pid_file,
             "-netdev", "tap,id=net0,fd=" + std::to_string(p.tap_fd),
         })
        a.push_back(x);
    // Boot devices carry their place in the boot order (QEMU's bootindex; both firmwares read it).
    const auto order = effective_boot_order(s);
    auto boot = [&](const char* what) {
        auto it = std::find(order.begin(), order.end(), what);
        return it == order.end() ? std::string() : ",bootindex=" + std::to_string(it - order.begin());
    };
    a.push_back("-device");
    a.push_back("virtio-net-pci,netdev=net0,mac=" + p.mac + boot("network"));
    for (auto& x : std::vector<std::string>{
             "-device", "virtio-rng-pci",
             // The guest's own memory figures (it reports them through the balloon's statistics;
             // the balloon is never inflated).
             "-device", "virtio-balloon-pci,id=balloon0",
             // The guest agent's channel (qemu-guest-agent opens org.qemu.guest_agent.0).
             "-chardev", "socket,id=qga0,path=" + dir + "/" + agent_socket + ",server=on,wait=off",
             "-device", "virtio-serial-pci,id=vser0",
             "-device", std::string("virtserialport,bus=vser0.0,chardev=qga0,name=org.qemu.guest_agent.0,id=") + agent_port_id,
         })
        a.push_back(x);
    if (!p.uefi_code.empty()) {
        a.push_back("-drive");
        a.push_back("if=pflash,format=raw,unit=0,readonly=on,file=" + qemu_escape(p.uefi_code));
        a.push_back("-drive");
        a.push_back("if=pflash,format=raw,unit=1,file=" + qemu_escape(p.uefi_vars));
    }
    if (!s.kernel.empty()) {
        a.push_back("-kernel");
        a.push_back(p.kernel_path);
        if (!p.initrd_path.empty()) {
            a.push_back("-initrd");
            a.push_back(p.initrd_path);
        }
        a.push_back("-append");
        a.push_back(s.cmdline.empty() ? "console=ttyS0" : "console=ttyS0 " + s.cmdline);
    }
    if (!p.disk_path.empty()) {
        a.push_back("-drive");
        a.push_back("if=none,id=disk0,file=" + qemu_escape(p.disk_path) + ",format=qcow2,discard=unmap");
        a.push_back("-device");
        a.push_back("virtio-blk-pci,drive=disk0" + boot("disk"));
    }
    if (!p.cdrom_path.empty()) {
        a.push_back("-drive");
        a.push_back("if=none,id=cd0,media=cdrom,readonly=on,format=raw,file=" + qemu_escape(p.cdrom_path));
        a.push_back("-device");
        a.push_back("ide-cd,drive=cd0" + boot("cdrom"));
    }
    if (!p.seed_disk_path.empty()) {
        // After the system disk, so a guest's first disk (vda) stays its system disk.
        a.push_back("-drive");
        a.push_back("if=none,id=seed0,readonly=on,format=raw,file=" + qemu_escape(p.seed_disk_path));
        a.push_back("-device");
        a.push_back("virtio-blk-pci,drive=seed0");
    }
    if (!p.nocloud_url.empty()) {
        // cloud-init finds its NoCloud seed from the SMBIOS serial. "ds=nocloud-net": cloud-init
        // before 24.1 (Debian 12's 22.4) reads "ds=nocloud;s=" as a local seed and throws an HTTP
        // one away (LAB-NOTES §9); 24.1 and later read both spellings.
        a.push_back("-smbios");
        a.push_back("type=1,serial=ds=nocloud-net;s=" + qemu_escape(p.nocloud_url));
    }
    a.push_back("-sandbox");
    a.push_back("on,obsolete=deny,spawn=deny,resourcecontrol=deny");
    if (!p.runas.empty()) {
        a.push_back("-runas");
        a.push_back(p.runas);
    }
    return a;
}

} // namespace paddock::vm

package io.ionllama.cli;

import io.ionllama.backend.Backend;
import io.ionllama.backend.Backends;
import io.ionllama.backend.cpu.SimdSupport;
import picocli.CommandLine.Option;

/** {@code --backend}, {@code --device}, {@code --threads}: shared by every command that runs the model. */
final class BackendOptions {

    @Option(names = "--backend", defaultValue = "auto", description = "auto, cpu or tornado (auto: TornadoVM when running under it with a device, else cpu).")
    String backend;

    @Option(names = "--device", description = "TornadoVM device, numbered as 'ionllama devices' lists them "
            + "(default: -Dionllama.device if set, else TornadoVM's default device).")
    Integer device;

    @Option(names = "--threads", description = "CPU worker threads (default: available processors).")
    Integer threads;

    /** Checks --threads and --device; commands call it before any slow work. */
    BackendOptions validate() {
        if (threads != null) {
            Bounds.check("--threads", threads, 1, Bounds.maxThreads());
        }
        if (device != null && device < 0) {
            throw new Errors.UserError("--device must be >= 0 (got " + device + "; see: ionllama devices)");
        }
        return this;
    }

    Backend open() {
        validate();
        int t = threads != null ? threads : Backends.defaultThreads();
        // -1: the TornadoVM backend takes -Dionllama.device, else TornadoVM's default device.
        Backend be = Backends.open(backend, t, device != null ? device : -1, System.err);
        SimdSupport.noticeOnce();
        return be;
    }
}

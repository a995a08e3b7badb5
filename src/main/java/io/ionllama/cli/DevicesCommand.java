package io.ionllama.cli;

import io.ionllama.backend.Backends;
import io.ionllama.backend.cpu.SimdSupport;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/**
 * {@code ionllama devices}: what this JVM can run the model on. Under TornadoVM it lists every
 * TornadoVM device with the number {@code --device N} / {@code -Dionllama.device=N} select it by.
 */
@Command(name = "devices", mixinStandardHelpOptions = true,
        description = "List the backends and devices this JVM can use.")
final class DevicesCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        System.out.printf("cpu      %d hardware thread(s); %s%n", Backends.defaultThreads(), SimdSupport.describe());
        String why = Backends.tornadoUnavailableReason();
        if (why != null) {
            System.out.println("tornado  unavailable: " + why);
        } else {
            System.out.println("tornado  available");
            for (String line : Backends.tornadoDevices()) {
                System.out.println(line);
            }
        }
        return 0;
    }
}

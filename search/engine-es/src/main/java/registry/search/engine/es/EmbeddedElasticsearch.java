package registry.search.engine.es;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.common.transport.TransportAddress;
import org.elasticsearch.env.Environment;
import org.elasticsearch.http.HttpServerTransport;
import org.elasticsearch.node.ClasspathNode;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.transport.netty4.Netty4Plugin;

/**
 * A single Elasticsearch 8 node for tests, run from the classpath (no distribution).
 *
 * <p>Usage: {@code EmbeddedElasticsearch -home DIR [-port N] [-cluster-name NAME] [-parent-pid PID]}.
 * Port 0 picks a free port. Everything binds to 127.0.0.1. When the node is up it prints
 * {@code REGISTRY-SEARCH-ENGINE started port=N url=http://127.0.0.1:N} and writes N to
 * {@code DIR/http.port}; SIGTERM (or SIGINT) closes the node and prints
 * {@code REGISTRY-SEARCH-ENGINE stopped}. With {@code -parent-pid} the node also stops when that
 * process is gone (a test run that was killed leaves no engine behind). Logs go to stdout.
 *
 * <p>The node is built like Elasticsearch's own in-JVM test nodes: no bootstrap (so no
 * entitlements, security manager, bootstrap checks or native setup), plugins from the classpath.
 */
public final class EmbeddedElasticsearch {

    static final String TAG = "REGISTRY-SEARCH-ENGINE";
    static final String NODE_NAME = "registry-test-node";

    /** transport-netty4 is the only 8.x module on Maven Central; RegistryTestPlugin stands in for the rest we need. */
    static final List<Class<? extends Plugin>> MODULES = List.of(
        Netty4Plugin.class,          // HTTP and transport
        RegistryTestPlugin.class     // GET / and the ngram tokenizer (their modules are not published)
    );

    /** INFO and up to stdout (the caller captures it); the deprecation log stays quiet. */
    static final String LOG4J2_PROPERTIES = String.join("\n",
        "status = error",
        "appender.console.type = Console",
        "appender.console.name = console",
        "appender.console.target = SYSTEM_OUT",
        "appender.console.layout.type = PatternLayout",
        "appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%n",
        "rootLogger.level = info",
        "rootLogger.appenderRef.console.ref = console",
        "logger.deprecation.name = org.elasticsearch.deprecation",
        "logger.deprecation.level = error",
        "");

    private EmbeddedElasticsearch() {}

    public static void main(String[] args) {
        Path home = null;
        String port = "0";
        String clusterName = "registry-test";
        long parentPid = -1;
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "-home" -> { home = Paths.get(require(args[i], value)); i++; }
                case "-port" -> { port = Integer.toString(Integer.parseInt(require(args[i], value))); i++; }
                case "-cluster-name" -> { clusterName = require(args[i], value); i++; }
                case "-parent-pid" -> { parentPid = Long.parseLong(require(args[i], value)); i++; }
                default -> usage("unknown argument " + args[i]);
            }
        }
        if (home == null) {
            usage("-home is required");
        }
        try {
            if (parentPid > 0) {
                exitWithParent(parentPid);
            }
            run(home.toAbsolutePath(), port, clusterName);
        } catch (Throwable e) {
            System.out.flush();
            e.printStackTrace();
            Throwable root = e;
            while (root.getCause() != null && root.getCause() != root) {
                root = root.getCause();
            }
            // last, so that it ends the log tail a caller shows
            System.err.println(TAG + " failed: " + e + (root == e ? "" : "; root cause: " + root));
            System.err.flush();
            Runtime.getRuntime().halt(1);
        }
    }

    private static void run(Path home, String port, String clusterName) throws Exception {
        Path config = home.resolve("config");
        Path data = home.resolve("data");
        Path logs = home.resolve("logs");
        Files.createDirectories(config);
        Files.createDirectories(data);
        Files.createDirectories(logs);
        Files.createDirectories(home.resolve("plugins"));
        Files.createDirectories(home.resolve("modules"));
        Path portFile = home.resolve("http.port");
        Files.deleteIfExists(portFile);

        Settings settings = Settings.builder()
            .put("cluster.name", clusterName)
            .put("node.name", NODE_NAME)
            .put("path.home", home.toString())
            .put("path.data", data.toString())
            .put("path.logs", logs.toString())
            .put("network.host", "127.0.0.1")
            .put("http.port", port)
            .put("transport.port", "0")
            .put("discovery.type", "single-node")
            // a nearly full disk must not turn test indices read-only
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .build();
        Environment environment =
            InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), config, () -> NODE_NAME);
        Path logConfig = config.resolve("log4j2.properties");
        if (!Files.exists(logConfig)) {
            Files.writeString(logConfig, LOG4J2_PROPERTIES, StandardCharsets.UTF_8);
        }
        LogConfigurator.registerErrorListener();
        LogConfigurator.setNodeName(NODE_NAME);
        LogConfigurator.configure(environment, true);

        Node node = new ClasspathNode(environment, MODULES);
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                if (!node.awaitClose(30, TimeUnit.SECONDS)) {
                    System.err.println(TAG + " node did not close within 30 s");
                }
            } catch (IOException | InterruptedException e) {
                System.err.println(TAG + " error while stopping: " + e);
            } finally {
                System.out.println(TAG + " stopped");
                System.out.flush();
                closed.countDown();
            }
        }, "registry-search-engine-shutdown"));

        node.start();
        TransportAddress bound = node.injector().getInstance(HttpServerTransport.class)
            .boundAddress().publishAddress();
        int httpPort = bound.getPort();
        Path tmp = home.resolve("http.port.tmp");
        Files.writeString(tmp, Integer.toString(httpPort), StandardCharsets.UTF_8);
        Files.move(tmp, portFile, StandardCopyOption.ATOMIC_MOVE);
        System.out.println(TAG + " started port=" + httpPort + " url=http://127.0.0.1:" + httpPort
            + " cluster=" + clusterName + " home=" + home);
        System.out.flush();
        closed.await();
    }

    /** Stops the JVM (through the shutdown hook, so the node closes) once the given process ends. */
    private static void exitWithParent(long pid) {
        ProcessHandle parent = ProcessHandle.of(pid).orElse(null);
        if (parent == null || !parent.isAlive()) {
            throw new IllegalStateException("parent process " + pid + " is not running");
        }
        parent.onExit().thenRun(() -> {
            System.err.println(TAG + " parent process " + pid + " ended; stopping");
            System.exit(0);
        });
    }

    private static String require(String flag, String value) {
        if (value == null) {
            usage(flag + " needs a value");
        }
        return value;
    }

    private static void usage(String problem) {
        System.err.println(TAG + " " + problem);
        System.err.println("usage: EmbeddedElasticsearch -home DIR [-port N] [-cluster-name NAME]");
        System.exit(2);
    }
}

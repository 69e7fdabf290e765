package com.aiplatform.backup.kafka;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Opens a plain TCP connection to every address of the bootstrap servers, on a daemon thread,
 * while the Kafka client makes its first request. Kafka's clients retry a refused connection
 * silently until their timeout; this tells a refused connection (nothing listens there, a
 * {@link ConnectException}) apart from a silent peer at once, by the exception the socket throws.
 * It only says "refused" when every address of every server refused; anything else (one accepts,
 * a connect times out, a name does not resolve) leaves the verdict to the Kafka client.
 */
final class KafkaBootstrapProbe implements AutoCloseable {
    private final Thread thread;
    private volatile ConnectException refused;
    private volatile boolean closed;

    private KafkaBootstrapProbe(String bootstrapServers, Duration connectTimeout) {
        int timeoutMs = (int) Math.max(1, Math.min(Integer.MAX_VALUE, connectTimeout.toMillis()));
        this.thread = new Thread(() -> probe(bootstrapServers, timeoutMs), "kafka-bootstrap-probe");
        thread.setDaemon(true);
    }

    /** Starts probing {@code host:port[,host:port...]}. */
    static KafkaBootstrapProbe start(String bootstrapServers, Duration connectTimeout) {
        KafkaBootstrapProbe probe = new KafkaBootstrapProbe(bootstrapServers, connectTimeout);
        probe.thread.start();
        return probe;
    }

    /** The refusal when every address refused the connection; null otherwise (or not known yet). */
    ConnectException refused() {
        return refused;
    }

    private void probe(String bootstrapServers, int timeoutMs) {
        List<String> refusedBy = new ArrayList<>();
        ConnectException last = null;
        for (String server : bootstrapServers.split(",")) {
            String s = server.trim();
            int colon = s.lastIndexOf(':');
            String host = s.substring(0, colon).replace("[", "").replace("]", "");
            int port = Integer.parseInt(s.substring(colon + 1));
            InetAddress[] addresses;
            try {
                addresses = InetAddress.getAllByName(host);
            } catch (UnknownHostException e) {
                return; // the Kafka client reports names it cannot resolve
            }
            for (InetAddress address : addresses) {
                if (closed) {
                    return;
                }
                try (Socket socket = new Socket()) {
                    socket.connect(new InetSocketAddress(address, port), timeoutMs);
                    return; // something listens: whether it answers like Kafka is the client's question
                } catch (ConnectException e) {
                    last = e;
                    refusedBy.add(address.getHostAddress() + ":" + port);
                } catch (IOException e) {
                    return; // a timeout or no route: not a refusal
                }
            }
        }
        if (last != null) {
            ConnectException e = new ConnectException("connection refused by " + String.join(", ", refusedBy));
            e.initCause(last);
            refused = e;
        }
    }

    @Override
    public void close() {
        closed = true;
    }
}

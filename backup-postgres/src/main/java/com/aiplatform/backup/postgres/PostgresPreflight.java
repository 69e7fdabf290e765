package com.aiplatform.backup.postgres;

import com.aiplatform.backup.api.Problem;
import com.aiplatform.backup.api.SourceException;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Pre-flight check of a PostgreSQL source: every problem at once, before any byte is written.
 *
 * <p>It opens (with {@code connect-timeout} on every step, so nothing hangs):
 * <ol>
 *   <li>a normal session to the configured database: {@code unreachable} (refused, timed out,
 *       unknown host: then nothing else can be checked), {@code not-postgresql} (something else
 *       answers on that port, named by the first line it sent), {@code authentication},
 *       {@code database-missing}; then reads the server's version and settings. In physical
 *       mode: {@code server-version} (older than 15), {@code wal-level} ({@code minimal}),
 *       {@code replication-privilege} (neither REPLICATION nor superuser),
 *       {@code wal-senders} ({@code max_wal_senders} minus the walsenders in
 *       {@code pg_stat_replication} leaves none) and {@code replication-slots} (no free slot
 *       under {@code max_replication_slots} and the archiver's slot does not exist yet);</li>
 *   <li>in physical mode, a replication connection ({@code replication=true}) running
 *       {@code IDENTIFY_SYSTEM}, which proves what the backup itself needs: pg_hba.conf admits
 *       the user for {@code replication}, the privilege, a free walsender;</li>
 *   <li>in logical mode, the client tools' checks.</li>
 * </ol>
 * A problem seen by both connections is reported once.
 */
final class PostgresPreflight {
    static final String UNREACHABLE = "unreachable";
    static final String AUTHENTICATION = "authentication";
    static final String DATABASE_MISSING = "database-missing";
    static final String SERVER_VERSION = "server-version";
    static final String WAL_LEVEL = "wal-level";
    static final String REPLICATION_PRIVILEGE = "replication-privilege";
    static final String WAL_SENDERS = "wal-senders";
    static final String REPLICATION_SLOTS = "replication-slots";
    static final String REPLICATION_CONNECTION = "replication-connection";
    static final String SERVER_QUERY = "server-query";
    static final String NOT_POSTGRESQL = "not-postgresql";

    private PostgresPreflight() {
    }

    /** What the normal session learns about the server. */
    record ServerFacts(int versionNum, String version, String walLevel, int maxWalSenders, int maxSlots,
                       boolean replicationRole, int walSendersInUse, int slotsInUse, boolean slotExists) {
        int major() {
            return versionNum / 10000;
        }
    }

    static List<Problem> check(PostgresConfig config) {
        Map<String, Problem> problems = new LinkedHashMap<>();
        boolean physical = config.mode() == PostgresConfig.Mode.PHYSICAL;
        ServerFacts facts = null;
        try (PgReplicationConnection c = PgReplicationConnection.open(config, PgReplicationConnection.Mode.PLAIN)) {
            c.readTimeout(config.connectTimeout());
            facts = facts(c, config);
        } catch (PgUnreachableException e) {
            add(problems, new Problem(UNREACHABLE, e.getMessage()));
            return List.copyOf(problems.values());
        } catch (PgNotPostgresException e) {
            add(problems, new Problem(NOT_POSTGRESQL, e.getMessage()));
            return List.copyOf(problems.values());
        } catch (PgServerException e) {
            add(problems, startupProblem(e, config, "a database session"));
        } catch (SourceException e) {
            add(problems, new Problem(SERVER_QUERY, e.getMessage()));
        }
        int serverMajor = facts == null ? 0 : facts.major();
        if (physical && facts != null) {
            serverProblems(config, facts, problems);
        }
        if (physical) {
            try (PgReplicationConnection r = PgReplicationConnection.open(config, PgReplicationConnection.Mode.PHYSICAL)) {
                r.readTimeout(config.connectTimeout());
                r.queryOne("IDENTIFY_SYSTEM");
                if (serverMajor == 0) {
                    serverMajor = r.serverMajor();
                    if (serverMajor < PhysicalBaseBackup.MINIMUM_MAJOR) {
                        add(problems, versionProblem(config, r.serverVersion()));
                    }
                }
            } catch (PgUnreachableException e) {
                add(problems, new Problem(UNREACHABLE, e.getMessage()));
            } catch (PgServerException e) {
                add(problems, startupProblem(e, config, "a replication connection"));
            } catch (SourceException e) {
                add(problems, new Problem(REPLICATION_CONNECTION, e.getMessage()));
            }
        }
        // ---- logical mode: client tool checks (pg_dump, pg_dumpall) ----
        // Only with a known server version: tools are checked against the server's major version.
        if (!physical && serverMajor > 0) {
            for (Problem p : PgTools.problems(config, serverMajor)) {
                problems.putIfAbsent(p.code() + ":" + p.message(), p);
            }
        }
        return List.copyOf(problems.values());
    }

    private static ServerFacts facts(PgReplicationConnection c, PostgresConfig config) throws SourceException {
        PgResultSet rs = c.queryOne("SELECT current_setting('server_version_num')::int AS version_num,"
                + " current_setting('server_version') AS version,"
                + " current_setting('wal_level') AS wal_level,"
                + " current_setting('max_wal_senders')::int AS max_wal_senders,"
                + " current_setting('max_replication_slots')::int AS max_slots,"
                + " (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user) AS replication_role,"
                + " (SELECT count(*) FROM pg_stat_replication) AS senders_in_use,"
                + " (SELECT count(*) FROM pg_replication_slots) AS slots_in_use,"
                + " EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = "
                + PhysicalBaseBackup.literal(config.slotName()) + ") AS slot_exists");
        return new ServerFacts(Integer.parseInt(rs.single("version_num")), rs.single("version"),
                rs.single("wal_level"), Integer.parseInt(rs.single("max_wal_senders")),
                Integer.parseInt(rs.single("max_slots")), "t".equals(rs.single("replication_role")),
                Integer.parseInt(rs.single("senders_in_use")), Integer.parseInt(rs.single("slots_in_use")),
                "t".equals(rs.single("slot_exists")));
    }

    private static void serverProblems(PostgresConfig config, ServerFacts f, Map<String, Problem> problems) {
        String where = "PostgreSQL at " + config.host() + ":" + config.port();
        if (f.major() < PhysicalBaseBackup.MINIMUM_MAJOR) {
            add(problems, versionProblem(config, f.version()));
        }
        if ("minimal".equals(f.walLevel())) {
            add(problems, new Problem(WAL_LEVEL, where + " has wal_level = minimal; physical backups and WAL "
                    + "archiving need wal_level = replica (or logical) in postgresql.conf, then a restart"));
        }
        if (!f.replicationRole()) {
            add(problems, new Problem(REPLICATION_PRIVILEGE, "user \"" + config.user() + "\" on " + where
                    + " has neither the REPLICATION attribute nor superuser; run ALTER ROLE \"" + config.user()
                    + "\" REPLICATION"));
        }
        int freeSenders = f.maxWalSenders() - f.walSendersInUse();
        if (freeSenders < 1) {
            add(problems, new Problem(WAL_SENDERS, where + " has no free walsender: max_wal_senders = "
                    + f.maxWalSenders() + ", " + f.walSendersInUse() + " in use; raise max_wal_senders (restart "
                    + "needed)"));
        }
        if (!f.slotExists() && f.maxSlots() - f.slotsInUse() < 1) {
            add(problems, new Problem(REPLICATION_SLOTS, where + " has no free replication slot for the WAL "
                    + "archiver's slot '" + config.slotName() + "': max_replication_slots = " + f.maxSlots() + ", "
                    + f.slotsInUse() + " in use; raise max_replication_slots (restart needed) or drop an unused slot"));
        }
    }

    private static Problem versionProblem(PostgresConfig config, String version) {
        return new Problem(SERVER_VERSION, "PostgreSQL at " + config.host() + ":" + config.port() + " is version "
                + version + "; physical backups need PostgreSQL " + PhysicalBaseBackup.MINIMUM_MAJOR
                + " or newer (mode: logical works with older servers)");
    }

    private static Problem startupProblem(PgServerException e, PostgresConfig config, String what) {
        String state = e.sqlState();
        if (e.error() != null && e.error().isAuthentication()) {
            return new Problem(AUTHENTICATION, e.getMessage() + " [" + what + "]");
        }
        if (PgServerError.INSUFFICIENT_PRIVILEGE.equals(state)) {
            return new Problem(REPLICATION_PRIVILEGE, e.getMessage());
        }
        if (PgServerError.TOO_MANY_CONNECTIONS.equals(state)) {
            return new Problem(WAL_SENDERS, e.getMessage());
        }
        if (PgServerError.INVALID_CATALOG_NAME.equals(state)) {
            return new Problem(DATABASE_MISSING, "database \"" + config.database() + "\" does not exist on PostgreSQL at "
                    + config.host() + ":" + config.port());
        }
        return new Problem(REPLICATION_CONNECTION, e.getMessage() + " [" + what + "]");
    }

    /** Adds a problem unless one with the same code is there already (both connections can see it). */
    private static void add(Map<String, Problem> problems, Problem p) {
        problems.putIfAbsent(p.code(), p);
    }
}

"""Issue 17's scenario 9: quorum queues on a three-node RabbitMQ cluster, with both services given every node's
address (EVENTBUS_URL with three hosts: a connection tries them in order) and EVENTBUS_QUEUE_TYPE=quorum.

- cluster-kill-node: scripts/cluster.sh's loopback cluster (a copy under .run/faults/cluster, on 5711-5713, so that
  neither the tests' cluster on 5701-5703 nor with-services.sh's sweep of .run/rabbitmq-* touches it); SIGKILL of
  node 1, the node both services are connected to and where their quorum queues have their leaders. Over when every
  service connection is open again on a surviving node; node 1 is then started again and rejoins.
- cluster-partition: three nodes, each in its own network namespace (evfault-n1..3) on a veth pair to a bridge
  (evfault-br, 10.213.77.0/24) whose root-namespace side the services use; cluster_partition_handling =
  pause_minority and net_ticktime = 10 s. The bridge-side end of node 1's veth (the services' node, its queues'
  leader) is set down for 30 s and up again: node 1 finds itself in a minority and pauses, the other two elect new
  leaders, the services (heartbeat 5 s) move to node 2; when the link returns node 1 resumes and rejoins.

Both clean up after themselves (nodes, namespaces, veths, bridge), even on failure, and remove what an earlier
crashed run left before they start.
"""

import os
import shutil
import signal
import socket
import subprocess
import threading
import time

from harness import HarnessError, log

RABBIT_BIN = "/usr/lib/rabbitmq/bin"
NO_BUSY_WAIT = "+sbwt none +sbwtdcpu none +sbwtdio none"
COOKIE = "EVENTBUSFAULTSCLUSTERCOOKIE"
BASE_PORT = int(os.environ.get("FAULTS_CLUSTER_PORT", "5711"))   # nodes on BASE_PORT .. BASE_PORT + 2
CUT_SECONDS = 30.0
SERVICE_OPTIONS = "?heartbeat=5&connection_timeout=3000"          # a cut link is noticed within 10 s


class ClusterScenario:
    def __init__(self, name, store, description, prepare, inject, cleanup, evidence):
        self.name, self.store, self.description = name, store, description
        self.scenario = name
        self.prepare, self.inject, self.cleanup, self.evidence = prepare, inject, cleanup, evidence


def run(command, timeout=60, check=True, env=None):
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if check and result.returncode != 0:
        raise HarnessError("%s failed: %s" % (" ".join(command), (result.stderr or result.stdout).strip()[-400:]))
    return result


def connection_names(output):
    """The connection_name client properties in `list_connections client_properties` output."""
    names = []
    for line in output.splitlines():
        start = line.find('{"connection_name","')
        if start >= 0:
            start += len('{"connection_name","')
            names.append(line[start:line.find('"', start)])
    return names


# --- the loopback cluster of scripts/cluster.sh ---------------------------------------------------------------------

class LoopbackCluster:
    """scripts/cluster.sh (and broker.sh) copied under .run/faults/cluster: its nodes' data lives there."""

    def __init__(self, harness):
        root = os.path.join(harness.run_dir, "cluster")
        os.makedirs(os.path.join(root, "scripts"), exist_ok=True)
        for script in ("cluster.sh", "broker.sh"):
            shutil.copy2(os.path.join(harness.root, "scripts", script), os.path.join(root, "scripts", script))
        self.script = os.path.join(root, "scripts", "cluster.sh")
        self.env = dict(os.environ, EVENTBUS_CLUSTER_PORT=str(BASE_PORT))
        self.ports = [BASE_PORT, BASE_PORT + 1, BASE_PORT + 2]
        self.url = "amqp://guest:guest@%s/%s" % (",".join("127.0.0.1:%d" % p for p in self.ports), SERVICE_OPTIONS)

    def sh(self, *args, timeout=150, check=True):
        return run([self.script, *args], timeout=timeout, check=check, env=self.env).stdout

    def start(self):
        log("starting a three-node cluster (scripts/cluster.sh) on 127.0.0.1:%d-%d" % (self.ports[0], self.ports[2]))
        self.sh("start", "--fresh", timeout=180)

    def ctl(self, node, *args, timeout=60, check=True):
        return self.sh("ctl", str(node), *args, timeout=timeout, check=check)

    def connections(self, node):
        return connection_names(self.ctl(node, "list_connections", "-q", "--no-table-headers", "client_properties",
                                         timeout=30, check=False))

    def running_nodes(self, node):
        output = self.ctl(node, "eval", "length(rabbit_nodes:all_running()).", timeout=30, check=False)
        digits = "".join(c for c in output if c.isdigit())
        return int(digits) if digits else 0

    def stop(self):
        self.sh("stop", timeout=120, check=False)


# --- the network-namespace cluster ------------------------------------------------------------------------------------

class NetnsCluster:
    """Three nodes, each in network namespace evfault-n<i> with address 10.213.77.<i> on a veth pair whose other end
    (evfault-h<i>) is a port of bridge evfault-br (10.213.77.254 in the root namespace, where the services run)."""

    PREFIX = "evfault"
    SUBNET = "10.213.77"
    BRIDGE = "evfault-br"

    def __init__(self, harness):
        self.dir = os.path.join(harness.run_dir, "netns-cluster")
        self.processes = {}
        self.url = "amqp://guest:guest@%s/%s" % (
            ",".join("%s:%d" % (self.ip(i), self.port(i)) for i in (1, 2, 3)), SERVICE_OPTIONS)

    def ns(self, i):
        return "%s-n%d" % (self.PREFIX, i)

    def ip(self, i):
        return "%s.%d" % (self.SUBNET, i)

    def port(self, i):
        return BASE_PORT + i - 1

    def node(self, i):
        return "eventbus-faults@%s" % self.ip(i)

    def host_end(self, i):
        return "%s-h%d" % (self.PREFIX, i)

    def node_env(self, i):
        base = os.path.join(self.dir, "n%d" % i)
        return dict(os.environ, HOME=os.path.join(base, "home"), RABBITMQ_USE_LONGNAME="true",
                    RABBITMQ_NODENAME=self.node(i), RABBITMQ_NODE_IP_ADDRESS=self.ip(i),
                    RABBITMQ_NODE_PORT=str(self.port(i)), RABBITMQ_DIST_PORT="25672",
                    RABBITMQ_CONFIG_FILE=os.path.join(base, "rabbitmq.conf"),
                    RABBITMQ_MNESIA_BASE=os.path.join(base, "mnesia"), RABBITMQ_LOG_BASE=os.path.join(base, "log"),
                    RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(base, "enabled_plugins"),
                    RABBITMQ_PID_FILE=os.path.join(base, "rabbitmq.pid"),
                    RABBITMQ_LOGS=os.path.join(base, "log", "node.log"),
                    ERL_CRASH_DUMP=os.path.join(base, "log", "erl_crash.dump"),
                    # As scripts/broker.sh: no scheduler busy-waiting, on the nodes and in rabbitmqctl.
                    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=NO_BUSY_WAIT, RABBITMQ_CTL_ERL_ARGS=NO_BUSY_WAIT)

    # -- network --

    def teardown(self):
        """Removes every evfault-* namespace (killing what runs in it), veth end and the bridge: this run's or one
        an earlier crashed run left."""
        listed = run(["ip", "netns", "list"], check=False).stdout.split()
        namespaces = [name for name in listed if name.startswith(self.PREFIX + "-")]
        for name in namespaces:
            self.kill_namespace(name)
            run(["ip", "netns", "del", name], check=False)
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.processes = {}
        links = run(["ip", "-o", "link", "show"], check=False).stdout
        for line in links.splitlines():
            parts = line.split(":")
            if len(parts) > 1:
                link = parts[1].strip().split("@")[0]
                if link.startswith(self.PREFIX + "-"):
                    run(["ip", "link", "del", link], check=False)

    def kill_namespace(self, name):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            pids = [int(p) for p in run(["ip", "netns", "pids", name], check=False).stdout.split() if p.isdigit()]
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.3)
        raise HarnessError("processes in network namespace %s survived SIGKILL for 15 s" % name)

    def setup_network(self):
        self.teardown()
        run(["ip", "link", "add", self.BRIDGE, "type", "bridge"])
        run(["ip", "addr", "add", "%s.254/24" % self.SUBNET, "dev", self.BRIDGE])
        run(["ip", "link", "set", self.BRIDGE, "up"])
        for i in (1, 2, 3):
            ns, inner = self.ns(i), "%s-v%d" % (self.PREFIX, i)
            run(["ip", "netns", "add", ns])
            run(["ip", "link", "add", self.host_end(i), "type", "veth", "peer", "name", inner, "netns", ns])
            run(["ip", "link", "set", self.host_end(i), "master", self.BRIDGE])
            run(["ip", "link", "set", self.host_end(i), "up"])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
            run(["ip", "-n", ns, "addr", "add", "%s/24" % self.ip(i), "dev", inner])
            run(["ip", "-n", ns, "link", "set", inner, "up"])

    def set_link(self, i, up):
        run(["ip", "link", "set", self.host_end(i), "up" if up else "down"])

    # -- nodes --

    def write_node_files(self, i):
        base = os.path.join(self.dir, "n%d" % i)
        shutil.rmtree(base, ignore_errors=True)
        for sub in ("home", "mnesia", "log"):
            os.makedirs(os.path.join(base, sub))
        cookie = os.path.join(base, "home", ".erlang.cookie")
        with open(cookie, "w") as handle:
            handle.write(COOKIE)
        os.chmod(cookie, 0o400)
        with open(os.path.join(base, "enabled_plugins"), "w") as handle:
            handle.write("[].\n")
        # Node 1 starts alone; 2 and 3 find it through classic_config and join it.
        with open(os.path.join(base, "rabbitmq.conf"), "w") as handle:
            handle.write("\n".join([
                "listeners.tcp.1 = %s:%d" % (self.ip(i), self.port(i)),
                "loopback_users = none",
                "log.console = false",
                "log.file.level = info",
                "vm_memory_high_watermark.relative = 0.4",
                "disk_free_limit.absolute = 50MB",
                "cluster_partition_handling = pause_minority",
                "net_ticktime = 10",
                "cluster_formation.peer_discovery_backend = classic_config",
                "cluster_formation.classic_config.nodes.1 = %s" % self.node(1),
                ""]))

    def start_node(self, i):
        log_path = os.path.join(self.dir, "n%d" % i, "log", "stdout.log")
        with open(log_path, "ab") as out:
            self.processes[i] = subprocess.Popen(
                ["ip", "netns", "exec", self.ns(i), os.path.join(RABBIT_BIN, "rabbitmq-server")],
                env=self.node_env(i), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)

    def wait_listening(self, nodes, bound=90):
        deadline = time.monotonic() + bound
        waiting = set(nodes)
        while waiting and time.monotonic() < deadline:
            for i in sorted(waiting):
                if self.processes[i].poll() is not None:
                    raise HarnessError("node %d exited during start-up (see %s)" % (i, os.path.join(
                        self.dir, "n%d" % i, "log")))
                with socket.socket() as probe:
                    probe.settimeout(1)
                    if probe.connect_ex((self.ip(i), self.port(i))) == 0:
                        waiting.discard(i)
            time.sleep(0.5)
        if waiting:
            raise HarnessError("node(s) %s did not listen within %d s" % (sorted(waiting), bound))

    def start(self):
        log("starting three nodes in network namespaces %s-n1..3 on %s.1-3:%d-%d (pause_minority)" % (
            self.PREFIX, self.SUBNET, self.port(1), self.port(3)))
        self.setup_network()
        for i in (1, 2, 3):
            self.write_node_files(i)
        self.start_node(1)
        self.wait_listening([1])
        self.start_node(2)
        self.start_node(3)
        self.wait_listening([2, 3])
        deadline = time.monotonic() + 60
        while self.running_nodes(1) != 3:
            if time.monotonic() > deadline:
                raise HarnessError("the namespace cluster did not reach three running nodes within 60 s")
            time.sleep(1)

    def ctl(self, node, *args, timeout=60, check=True):
        command = ["ip", "netns", "exec", self.ns(node), os.path.join(RABBIT_BIN, "rabbitmqctl"), "--longnames",
                   "-n", self.node(node), *args]
        return run(command, timeout=timeout, check=check, env=self.node_env(node)).stdout

    def connections(self, node):
        return connection_names(self.ctl(node, "list_connections", "-q", "--no-table-headers", "client_properties",
                                         timeout=30, check=False))

    def running_nodes(self, node):
        output = self.ctl(node, "eval", "length(rabbit_nodes:all_running()).", timeout=30, check=False)
        digits = "".join(c for c in output if c.isdigit())
        return int(digits) if digits else 0

    def is_running(self, node):
        """Whether the RabbitMQ application runs on the node (false while pause_minority holds it paused)."""
        return self.ctl(node, "eval", "rabbit:is_running().", timeout=20, check=False).strip() == "true"

    def stop(self):
        self.teardown()


class Relay:
    """127.0.0.1:<a free port> to (host, port), both ways: the harness's own AMQP views of the broker (dead letters
    read with amqp_raw) connect to 127.0.0.1 only, and a node in a namespace is not there."""

    def __init__(self, host, port):
        self.target = (host, port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sockets = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def pump(source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        for end in [self.server] + self.sockets:
            try:
                end.close()
            except OSError:
                pass


# --- shared set-up --------------------------------------------------------------------------------------------------

def use_cluster(harness, ctx, cluster, local_port):
    """Points the harness's broker views at node 2 (rabbitmqctl for queue depths; AMQP on 127.0.0.1:`local_port` for
    reading dead letters) and the services at every node, with quorum queues. release_cluster undoes all of it."""
    ctx.cluster = cluster
    ctx.saved_broker_port = harness.broker_port
    harness.broker_port = local_port
    ctx.saved_queue_type = os.environ.get("EVENTBUS_QUEUE_TYPE")
    os.environ["EVENTBUS_QUEUE_TYPE"] = "quorum"   # read by harness.make_service, which copies os.environ

    def ctl(*args, timeout=60, check=True):
        return cluster.ctl(2, *args, timeout=timeout, check=check)
    harness.ctl = ctl
    ctx.broker_url = cluster.url
    return cluster.url, cluster.url


def release_cluster(harness, ctx):
    harness.__dict__.pop("ctl", None)
    if hasattr(ctx, "saved_broker_port"):
        harness.broker_port = ctx.saved_broker_port
    if getattr(ctx, "relay", None) is not None:
        ctx.relay.stop()
        ctx.relay = None
    if hasattr(ctx, "saved_queue_type"):
        if ctx.saved_queue_type is None:
            os.environ.pop("EVENTBUS_QUEUE_TYPE", None)
        else:
            os.environ["EVENTBUS_QUEUE_TYPE"] = ctx.saved_queue_type
    cluster = getattr(ctx, "cluster", None)
    if getattr(ctx, "stop_applied", None) is not None:
        ctx.stop_applied.set()
    if cluster is not None:
        if getattr(ctx, "restarter", None) is not None:
            ctx.restarter.join(timeout=150)   # a node still starting would outlive the stop below
        watcher = getattr(ctx, "rejoin_watcher", None)
        if watcher is not None:
            ctx.stop_watching.set()
            watcher.join(timeout=30)
        cluster.stop()
        ctx.cluster = None


def wait_connections(cluster, nodes, names, bound):
    """Waits until every connection name in `names` is open on one of `nodes`; returns the seconds it took or None."""
    started = time.monotonic()
    while time.monotonic() - started < bound:
        seen = set()
        for node in nodes:
            seen.update(cluster.connections(node))
        if names <= seen:
            return time.monotonic() - started
        time.sleep(0.5)
    return None


def services_on_node_one(cluster, ctx):
    names = set(n for n in cluster.connections(1) if n.startswith(("catalog-", "basket-")))
    if not {"catalog-publisher", "basket-consumer"} <= names:
        raise HarnessError("the services are not connected to node 1 (found %s there)" % sorted(names))
    leaders = cluster.ctl(2, "list_queues", "-q", "--no-table-headers", "name", "type", "leader", timeout=30,
                          check=False)
    leader = [line.split("\t")[2] for line in leaders.splitlines() if line.startswith(ctx.queue + "\t")]
    return names, (leader[0] if leader else "?")


def watch_rejoin(ctx, cluster, since, what):
    """Records (in a note at evidence time) how long after `since` the cluster had three running nodes again."""
    ctx.stop_watching = threading.Event()
    ctx.rejoined = None

    def loop():
        while not ctx.stop_watching.is_set():
            try:
                if cluster.running_nodes(2) == 3:
                    ctx.rejoined = time.monotonic() - since
                    return
            except Exception:  # noqa: BLE001 - keep watching
                pass
            ctx.stop_watching.wait(1.0)
    ctx.rejoin_what = what
    ctx.rejoin_watcher = threading.Thread(target=loop, daemon=True)
    ctx.rejoin_watcher.start()


def watch_applied(harness, ctx, what):
    """Records how long after now every event committed so far has been applied in Basket: the stream's stall,
    which the recovery column (measured from the end of the fault) does not show when the services moved during it."""
    since = time.monotonic()
    expected = harness.committed_ids(ctx)
    ctx.applied_what, ctx.applied_after = what, None
    ctx.stop_applied = threading.Event()

    def loop():
        while not ctx.stop_applied.is_set():
            try:
                if expected <= harness.processed_ids(ctx):
                    ctx.applied_after = time.monotonic() - since
                    return
            except Exception:  # noqa: BLE001 - a busy database; ask again
                pass
            ctx.stop_applied.wait(0.25)
    ctx.applied_watcher = threading.Thread(target=loop, daemon=True)
    ctx.applied_watcher.start()


def cluster_evidence(harness, ctx):
    if getattr(ctx, "applied_watcher", None) is not None:
        ctx.applied_watcher.join(timeout=5)
        ctx.stop_applied.set()
        if ctx.applied_after is None:
            ctx.note("the events committed before %s were not all applied by the end of the row" % ctx.applied_what)
        else:
            ctx.note("every event committed before %s was applied %.1f s after it" % (ctx.applied_what,
                                                                                       ctx.applied_after))
    if getattr(ctx, "rejoin_watcher", None) is None:
        return
    ctx.rejoin_watcher.join(timeout=20)
    if ctx.rejoined is None:
        ctx.note("node 1 had not rejoined the cluster by the end of the row (%s)" % ctx.rejoin_what)
    else:
        ctx.note("node 1 was back in the cluster (three running nodes) %.1f s after %s" % (ctx.rejoined,
                                                                                          ctx.rejoin_what))
    members = harness.ctl("list_queues", "-q", "--no-table-headers", "name", "leader", "online", timeout=30,
                          check=False)
    for line in members.splitlines():
        if line.startswith(ctx.queue + "\t"):
            ctx.note("at the end, %s: leader %s, online members %s" % tuple(line.split("\t", 2)))


# --- cluster-kill-node ----------------------------------------------------------------------------------------------

def prepare_kill(harness, ctx):
    cluster = LoopbackCluster(harness)
    ctx.cluster = cluster
    cluster.start()
    return use_cluster(harness, ctx, cluster, cluster.ports[1])


def kill_node(harness, ctx):
    cluster = ctx.cluster
    names, leader = services_on_node_one(cluster, ctx)
    killed = time.monotonic()
    cluster.sh("kill-node", "1", timeout=60)
    watch_applied(harness, ctx, "the kill")
    took = wait_connections(cluster, [2, 3], names, 60)
    if took is None:
        raise HarnessError("the services' connections %s were not open on node 2 or 3 within 60 s of the kill"
                           % sorted(names))
    ctx.note("node 1 (the services' node; %s's leader %s) killed with SIGKILL; all %d service connections open "
             "again on nodes 2-3 after %.1f s; node 1 then started again" % (ctx.queue, leader, len(names), took))
    restarted = time.monotonic()

    def start_again():
        cluster.sh("start-node", "1", timeout=150, check=False)
    ctx.restarter = threading.Thread(target=start_again, daemon=True)
    ctx.restarter.start()
    watch_rejoin(ctx, cluster, restarted, "its restart began (%.1f s after the kill)" % (restarted - killed))


# --- cluster-partition ----------------------------------------------------------------------------------------------

def prepare_partition(harness, ctx):
    cluster = NetnsCluster(harness)
    ctx.cluster = cluster
    cluster.start()
    ctx.relay = Relay(cluster.ip(2), cluster.port(2))
    return use_cluster(harness, ctx, cluster, ctx.relay.port)


def partition(harness, ctx):
    cluster = ctx.cluster
    names, leader = services_on_node_one(cluster, ctx)
    cluster.set_link(1, up=False)
    cut = time.monotonic()
    watch_applied(harness, ctx, "the cut")
    paused = moved = None
    while time.monotonic() - cut < CUT_SECONDS:
        if paused is None and not cluster.is_running(1):
            paused = time.monotonic() - cut
        if moved is None:
            seen = set(cluster.connections(2)) | set(cluster.connections(3))
            if names <= seen:
                moved = time.monotonic() - cut
        if paused is not None and moved is not None:
            time.sleep(max(0.0, cut + CUT_SECONDS - time.monotonic()))
        else:
            time.sleep(0.5)
    cluster.set_link(1, up=True)
    restored = time.monotonic()
    ctx.note("link to node 1 (the services' node; %s's leader %s) down for %.0f s: node 1 paused itself "
             "(pause_minority) %s; the %d service connections open on nodes 2-3 %s" % (
                 ctx.queue, leader, restored - cut,
                 "after %.1f s" % paused if paused is not None else "NOT within the cut",
                 len(names), "after %.1f s" % moved if moved is not None else "NOT within the cut"))
    watch_rejoin(ctx, cluster, restored, "the link came back")


CLUSTER_SCENARIOS = [
    ClusterScenario("cluster-kill-node", "sqlite",
                    "SIGKILL the cluster node both services use (quorum queues, every node in the URL); start it again",
                    prepare_kill, kill_node, release_cluster, cluster_evidence),
    ClusterScenario("cluster-partition", "sqlite",
                    "cut the link to the services' node (own network namespaces, pause_minority) for 30 s",
                    prepare_partition, partition, release_cluster, cluster_evidence),
]

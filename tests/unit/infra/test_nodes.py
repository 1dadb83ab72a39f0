"""A multi-node local stack (``UCID_STACK_NODES`` / ``ucid stack up --nodes 3``): the settings it
changes, the servers' configurations, the start and stop order. The one-node stack must stay
exactly as it was."""

from __future__ import annotations

import pytest
import yaml

from infra import cassandra, kafka, stack
from infra.settings import Settings, node_address

_VARS = ("UCID_STACK_NODES", "UCID_KAFKA_BOOTSTRAP", "UCID_CASSANDRA_CONTACT_POINTS", "UCID_CASSANDRA_HOST",
         "UCID_KAFKA_HOST", "UCID_SPARK_MASTER", "UCID_SPARK_SERVER", "UCID_CASSANDRA_REPLICATION",
         "UCID_CASSANDRA_READ_CONSISTENCY", "UCID_KAFKA_REPLICATION_FACTOR", "UCID_CASSANDRA_HEAP",
         "UCID_KAFKA_HEAP", "UCID_SPARK_DRIVER_MEMORY", "UCID_KAFKA_MIN_INSYNC_REPLICAS")


@pytest.fixture
def env(monkeypatch, tmp_path):
    for var in _VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("UCID_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no .env of the repository
    return monkeypatch


def test_node_addresses_raise_the_last_octet():
    assert [node_address("127.0.0.1", i) for i in range(3)] == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    assert node_address("localhost", 0) == "localhost"
    with pytest.raises(ValueError, match="node 2"):
        node_address("localhost", 1)
    with pytest.raises(ValueError):
        node_address("127.0.0.254", 2)


def test_one_node_keeps_every_default(env):
    s = Settings()
    assert s.stack_nodes == 1
    assert s.cassandra.hosts == ["127.0.0.1"]
    assert s.cassandra.replication == {"class": "SimpleStrategy", "replication_factor": 1}
    assert (s.cassandra.read_consistency, s.cassandra.write_consistency) == ("LOCAL_ONE", "LOCAL_QUORUM")
    assert s.cassandra.heap == "1G"
    assert s.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert (s.kafka.replication_factor, s.kafka.min_isr, s.kafka.heap) == (1, None, "512m")
    assert (s.spark.master, s.spark.server, s.spark.driver_memory) == ("local[2]", False, "4g")
    assert [[server.name for server in group] for group in stack.groups(s)] == [["kafka"], ["cassandra"]]
    assert all(server.node is None for server in stack.servers(s))


def test_three_nodes_change_the_defaults_to_a_clusters(env):
    env.setenv("UCID_STACK_NODES", "3")
    s = Settings()
    assert s.cassandra.hosts == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]  # every contact point
    assert s.cassandra.replication == {"class": "NetworkTopologyStrategy", "datacenter1": 3}
    assert (s.cassandra.read_consistency, s.cassandra.write_consistency) == ("LOCAL_QUORUM", "LOCAL_QUORUM")
    assert s.kafka.bootstrap_servers == "127.0.0.1:9092,127.0.0.2:9092,127.0.0.3:9092"
    assert (s.kafka.replication_factor, s.kafka.min_isr) == (3, 2)
    assert s.spark.master == "local-cluster[2,1,1024]" and s.spark.server
    assert s.spark.partitions == 2 and s.spark.adaptive_enabled is False  # one machine still
    assert [[server.name for server in group] for group in stack.groups(s)] == [
        ["kafka", "kafka2", "kafka3"], ["cassandra"], ["cassandra2", "cassandra3"], ["spark"]]


def test_a_setting_in_the_environment_wins_over_the_node_defaults(env):
    env.setenv("UCID_STACK_NODES", "3")
    env.setenv("UCID_CASSANDRA_HOST", "127.0.0.2")
    env.setenv("UCID_CASSANDRA_READ_CONSISTENCY", "QUORUM")
    env.setenv("UCID_CASSANDRA_HEAP", "512m")
    env.setenv("UCID_SPARK_MASTER", "local[2]")
    s = Settings()
    assert s.cassandra.hosts == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    assert s.cassandra.read_consistency == "QUORUM" and s.cassandra.heap == "512m"
    assert s.spark.master == "local[2]"


def test_an_external_cluster_starts_no_local_node(env):
    env.setenv("UCID_STACK_NODES", "3")
    env.setenv("UCID_CASSANDRA_CONTACT_POINTS", '["c1", "c2", "c3"]')
    s = Settings()
    assert s.cassandra.hosts == ["c1", "c2", "c3"]
    names = [[server.name for server in group] for group in stack.groups(s)]
    assert names[1] == ["cassandra"] and stack.servers(s)[3].external


def test_the_one_node_cassandra_config_is_unchanged(env):
    s = Settings()
    config = yaml.safe_load(cassandra._write_config(s).read_text())
    assert config["initial_token"] == 0
    assert config["seed_provider"][0]["parameters"] == [{"seeds": "127.0.0.1:7000"}]
    assert "auto_bootstrap" not in config
    assert cassandra.managed(s).name == "cassandra"


def test_each_cassandra_node_has_its_address_token_jmx_and_data(env):
    env.setenv("UCID_STACK_NODES", "3")
    s = Settings()
    tokens = [cassandra.token(i, 3) for i in range(3)]
    assert tokens[0] == 0 and len(set(tokens)) == 3 and all(-2**63 <= t < 2**63 for t in tokens)
    config = yaml.safe_load(cassandra._write_config(s, 2).read_text())
    assert config["listen_address"] == config["rpc_address"] == "127.0.0.3"
    assert config["initial_token"] == tokens[2]
    assert config["seed_provider"][0]["parameters"][0]["seeds"] == "127.0.0.1:7000,127.0.0.2:7000,127.0.0.3:7000"
    assert config["auto_bootstrap"] is False
    assert config["data_file_directories"] == [str(s.data / "cassandra3" / "data")]
    assert s.cassandra.node_jmx_port(2) == 7201
    assert cassandra.managed(s, 2).name == "cassandra3"


def _props(path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line)


def test_the_one_node_kafka_config_is_unchanged(env):
    props = _props(kafka._write_config(Settings()))
    assert props["node.id"] == "1"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:9093"
    assert "controller.quorum.voters" not in props and "min.insync.replicas" not in props
    assert props["offsets.topic.replication.factor"] == "1"


def test_three_brokers_form_one_controller_quorum_with_replicated_internal_topics(env):
    env.setenv("UCID_STACK_NODES", "3")
    s = Settings()
    props = _props(kafka._write_config(s, 1))
    assert props["node.id"] == "2"
    assert props["listeners"] == "PLAINTEXT://127.0.0.2:9092,CONTROLLER://127.0.0.2:9093"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9093,2@127.0.0.2:9093,3@127.0.0.3:9093"
    assert "controller.quorum.bootstrap.servers" not in props
    assert props["min.insync.replicas"] == "2"
    assert props["offsets.topic.replication.factor"] == props["default.replication.factor"] == "3"
    assert props["transaction.state.log.min.isr"] == "2"
    assert props["log.dirs"] == str(s.data / "kafka2" / "logs")


def test_down_and_status_find_nodes_the_settings_do_not_name(env, tmp_path):
    """A stack brought up with ``--nodes 3`` is stopped by a plain ``ucid stack down``: a node
    whose pid file names a live process carrying its marker is found."""
    import subprocess
    import sys

    s = Settings()
    managed = cassandra.managed(s, 1)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", managed.marker])
    try:
        s.run_dir.mkdir(parents=True, exist_ok=True)
        managed.pid_file.write_text(str(child.pid))
        import time

        from infra import proc

        deadline = time.monotonic() + 10  # until the child's command line shows (just after exec)
        while managed.marker not in proc._cmdline(child.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [server.name for server in stack._other_nodes(s)] == ["cassandra2"]
        said: list[str] = []
        stack.down(s, said.append)
        assert "cassandra2 stopped" in said
        assert child.wait(5) is not None
    finally:
        if child.poll() is None:
            child.kill()


def test_reads_are_at_quorum_by_default_when_the_keyspace_is_replicated(env):
    """A real cluster's settings (contact points, replication 3) read at LOCAL_QUORUM unless told
    otherwise: LOCAL_ONE could miss a LOCAL_QUORUM write (the speed layer its own identifiers)."""
    env.setenv("UCID_CASSANDRA_CONTACT_POINTS", '["c1", "c2", "c3"]')
    env.setenv("UCID_CASSANDRA_REPLICATION", '{"class": "NetworkTopologyStrategy", "dc1": 3, "dc2": "3"}')
    s = Settings()
    assert s.cassandra.max_replicas == 3 and s.cassandra.read_consistency == "LOCAL_QUORUM"
    env.setenv("UCID_CASSANDRA_READ_CONSISTENCY", "LOCAL_ONE")
    assert Settings().cassandra.read_consistency == "LOCAL_ONE"  # said so: kept

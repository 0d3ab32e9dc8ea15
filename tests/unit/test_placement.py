from videocall.placement import NodeInfo, choose_node, dead_nodes


def node(i: str, calls: int, cpu: float = 0.1, draining: bool = False, seen: float = 100.0):
    return NodeInfo(i, f"http://127.0.0.1:80{i}", calls, cpu, draining, seen)


def test_least_loaded_live_node_is_chosen() -> None:
    nodes = [node("1", 3), node("2", 1), node("3", 0, seen=50.0), node("4", 0, draining=True)]
    assert choose_node(nodes, now=105.0, ttl=10.0).node_id == "2"


def test_cpu_breaks_ties_and_nothing_live_means_none() -> None:
    assert choose_node([node("1", 2, cpu=0.9), node("2", 2, cpu=0.2)], 100.0, 10.0).node_id == "2"
    assert choose_node([node("1", 0, seen=0.0)], 100.0, 10.0) is None


def test_dead_nodes_are_those_past_the_ttl() -> None:
    nodes = [node("1", 0, seen=89.0), node("2", 0, seen=91.0)]
    assert [n.node_id for n in dead_nodes(nodes, 100.0, 10.0)] == ["1"]

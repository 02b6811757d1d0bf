"""Guard against a silent pass: the checks below run on no host if the inventory is empty."""


def test_inventory_has_the_lab_hosts(inventory):
    assert sorted(inventory.get_hosts("managers")) == ["manager1", "manager2", "manager3"]
    assert sorted(inventory.get_hosts("workers")) == ["worker1", "worker2"]
    assert inventory.get_hosts("lb") == ["lb1"]

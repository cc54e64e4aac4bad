"""Unit tests for the sanboot.lab.valid_iqn test."""

from ansible_collections.sanboot.lab.plugins.test import valid_iqn as plugin


def test_valid_iqn():
    t = plugin.TestModule().tests()["valid_iqn"]
    assert t("iqn.2008-06.biz.frode:storage.vmware")
    assert not t("iqn.2008.06.biz.frode:storage.vmware")
    assert t("eui.02004567A425678D")
    assert not t(None)

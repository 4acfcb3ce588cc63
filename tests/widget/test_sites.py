"""Which sites may embed the widget: the owner's list, exact hosts and *.subdomain entries."""

import pytest

from chatai.widget.sites import BadSite, frame_ancestors, host_of, normalize_site, normalize_sites, site_allowed


@pytest.mark.parametrize(("entry", "site"), [
    ("Shop.Example.com", "shop.example.com"),
    ("https://shop.example.com/catalog?x=1", "shop.example.com"),
    ("shop.example.com:8443", "shop.example.com"),
    ("*.example.com", "*.example.com"),
    ("localhost", "localhost"),
    ("127.0.0.1", "127.0.0.1"),
])
def test_normalize_site_keeps_the_host(entry, site):
    assert normalize_site(entry) == site


@pytest.mark.parametrize("entry", ["", "exa mple.com", "*.com", "*", "http://", "<script>", "-bad.com", "999.1.1.1",
                                   "shop<b>.example.com"])
def test_normalize_site_refuses_what_is_not_a_host(entry):
    with pytest.raises(BadSite):
        normalize_site(entry)


def test_normalize_sites_drops_blanks_and_duplicates_in_order():
    assert normalize_sites(["b.com", " ", "A.com", "b.com"]) == ["b.com", "a.com"]


def test_exact_site_allows_only_itself():
    assert site_allowed("shop.example.com", ["shop.example.com"])
    assert not site_allowed("evil-shop.example.com", ["shop.example.com"])
    assert not site_allowed("shop.example.com.evil.net", ["shop.example.com"])
    assert not site_allowed("example.com", ["shop.example.com"])


def test_wildcard_allows_subdomains_but_not_the_bare_domain_or_lookalikes():
    allowed = ["*.example.com"]
    assert site_allowed("a.example.com", allowed)
    assert site_allowed("a.b.example.com", allowed)
    assert not site_allowed("example.com", allowed)
    assert not site_allowed("badexample.com", allowed)


def test_nothing_is_allowed_until_the_owner_adds_a_site():
    assert not site_allowed("localhost", [])
    assert not site_allowed("127.0.0.1", ["*.example.com"])
    assert site_allowed("127.0.0.1", ["127.0.0.1"])
    assert not site_allowed("", ["shop.example.com"])


def test_host_of_reads_origins_and_urls():
    assert host_of("https://Shop.Example.com:8443") == "shop.example.com"
    assert host_of("http://127.0.0.1:5000/page?q=1") == "127.0.0.1"
    assert host_of("null") == ""
    assert host_of("") == ""


def test_frame_ancestors_lists_each_site_and_none_when_empty():
    assert frame_ancestors([]) == "'none'"
    policy = frame_ancestors(["shop.example.com", "*.example.org"]).split()
    assert "https://shop.example.com" in policy and "http://shop.example.com:*" in policy
    assert "https://*.example.org" in policy
    assert not any("example.org:*" in source for source in policy)

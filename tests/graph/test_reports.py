"""Usage reports: CSV parsing (BOM, columns by name), concealed-name detection, and the 302
download flow against the simulator over HTTPS (graph-facts §3, §11).
"""

from __future__ import annotations

import pytest

from seatwise.errors import DataError, GraphError
from seatwise.graph import RetryPolicy, endpoints, looks_concealed, parse_csv
from seatwise.graph.endpoints import Period

from .conftest import Recording, Sim

ACTIVE_USER_HEADER = (
    "Report Refresh Date,User Principal Name,Display Name,Is Deleted,Deleted Date,"
    "Has Exchange License,Has OneDrive License,Has SharePoint License,"
    "Has Skype For Business License,Has Yammer License,Has Teams License,"
    "Exchange Last Activity Date,OneDrive Last Activity Date,SharePoint Last Activity Date,"
    "Skype For Business Last Activity Date,Yammer Last Activity Date,Teams Last Activity Date,"
    "Exchange License Assign Date,OneDrive License Assign Date,SharePoint License Assign Date,"
    "Skype For Business License Assign Date,Yammer License Assign Date,"
    "Teams License Assign Date,Assigned Products"
).split(",")


# -- parse_csv (pure) --------------------------------------------------------------------------


def test_parse_csv_strips_the_bom_and_maps_by_header_name() -> None:
    data = (
        "\ufeffReport Refresh Date,User Principal Name,Storage Used (Byte)\r\n"
        '2026-11-17,adele@contoso.com,"1,024"\r\n'
        "2026-11-17,megan@contoso.com,0\r\n"
    ).encode()
    header, rows = parse_csv(data)
    assert header == ["Report Refresh Date", "User Principal Name", "Storage Used (Byte)"]
    assert list(rows) == [
        {
            "Report Refresh Date": "2026-11-17",
            "User Principal Name": "adele@contoso.com",
            "Storage Used (Byte)": "1,024",
        },
        {
            "Report Refresh Date": "2026-11-17",
            "User Principal Name": "megan@contoso.com",
            "Storage Used (Byte)": "0",
        },
    ]


def test_parse_csv_tolerates_extra_missing_and_blank() -> None:
    data = (
        b"Report Refresh Date,User Principal Name,Has Archive,Something New\n"
        b"2026-11-17,a@contoso.com,True,x\n"
        b"\n"
        b"2026-11-17,b@contoso.com\n"  # a short row: the missing columns are absent keys
        b"2026-11-17,c@contoso.com,False,y,surplus\n"  # a cell beyond the header is dropped
    )
    header, rows = parse_csv(data)
    assert "Something New" in header
    got = list(rows)
    assert got[0]["Has Archive"] == "True" and got[0]["Something New"] == "x"
    assert got[1] == {"Report Refresh Date": "2026-11-17", "User Principal Name": "b@contoso.com"}
    assert got[2] == {
        "Report Refresh Date": "2026-11-17",
        "User Principal Name": "c@contoso.com",
        "Has Archive": "False",
        "Something New": "y",
    }


def test_parse_csv_without_bom_empty_and_unicode() -> None:
    assert parse_csv(b"")[0] == []
    header, rows = parse_csv(
        "User Principal Name,Display Name\nzoë@contoso.com,Zoë Ørsted\n".encode()
    )
    assert list(rows) == [{"User Principal Name": "zoë@contoso.com", "Display Name": "Zoë Ørsted"}]
    assert header == ["User Principal Name", "Display Name"]


def test_parse_csv_bad_input_is_a_data_error() -> None:
    with pytest.raises(DataError, match="not UTF-8"):
        parse_csv(b"Report Refresh Date\n\xff\xfe\n")
    _, rows = parse_csv(b'A,B\n"unterminated,1\n')
    with pytest.raises(DataError, match="not valid CSV"):
        list(rows)


def test_looks_concealed() -> None:
    assert looks_concealed(["FE7CC8C15246EDCCA289C9A4022762F7", "0A1B2C3D4E5F60718293A4B5C6D7E8F9"])
    assert looks_concealed(["<PII:H105(12345)>@contoso.com", "<PII:H105(67890)>@contoso.com"])
    assert looks_concealed(["", "FE7CC8C15246EDCCA289C9A4022762F7", ""])
    assert not looks_concealed(["adele@contoso.com", "megan@contoso.com"])
    assert not looks_concealed(["adele@contoso.com", "FE7CC8C15246EDCCA289C9A4022762F7", "x@y.z"])
    assert not looks_concealed([])
    assert not looks_concealed(["", "  "])


# -- endpoints ---------------------------------------------------------------------------------


def test_report_paths() -> None:
    assert (
        endpoints.report_path(endpoints.MAILBOX_USAGE, Period.D7)
        == "/beta/reports/getMailboxUsageDetail(period='D7')"
    )
    assert (
        endpoints.report_path(endpoints.ACTIVE_USERS, "D180", version="/v1.0")
        == "/v1.0/reports/getOffice365ActiveUserDetail(period='D180')"
    )
    assert (
        endpoints.report_path(endpoints.ACTIVATIONS, None)
        == "/beta/reports/getOffice365ActivationsUserDetail"
    )
    with pytest.raises(ValueError):
        endpoints.report_path(endpoints.ACTIVATIONS, Period.D7)
    with pytest.raises(ValueError):
        endpoints.report_path(endpoints.EMAIL_ACTIVITY, None)
    with pytest.raises(ValueError):
        endpoints.report_path(endpoints.EMAIL_ACTIVITY, "D14")


# -- the download flow against the simulator ---------------------------------------------------


def test_report_download_follows_the_302_without_the_token(sim: Sim) -> None:
    transport = Recording(sim.settings)
    with sim.client(transport=transport) as client:
        data = client.download_report(endpoints.report_path(endpoints.ACTIVE_USERS, Period.D7))
    assert data.startswith(b"\xef\xbb\xbf")
    header, rows = parse_csv(data)
    assert header == ACTIVE_USER_HEADER
    upns = [row["User Principal Name"] for row in rows]
    assert upns and not looks_concealed(upns)
    first, second = transport.requests
    assert first.headers["Authorization"].startswith("Bearer ")
    assert "authorization" not in second.headers
    assert second.url.host != first.url.host and second.url.path.startswith("/data/download/")


@pytest.mark.parametrize("report", sorted(endpoints.REPORTS))
def test_every_report_downloads_and_parses(sim: Sim, report: str) -> None:
    period = None if report == endpoints.ACTIVATIONS else Period.D30
    with sim.client() as client:
        header, rows = parse_csv(client.download_report(endpoints.report_path(report, period)))
    assert header[0] == "Report Refresh Date"
    assert all(row["Report Refresh Date"] == str(sim.tenant.refresh_date) for row in rows)


def test_download_faults_ask_graph_again(sim: Sim) -> None:
    sim.script("/data/download/", {"kind": "unavailable"}, {"kind": "reset"})
    path = endpoints.report_path(endpoints.MAILBOX_USAGE, Period.D7)
    before = sim.control("stats")["calls"].get("report:getMailboxUsageDetail", 0)
    with sim.client() as client:
        header, rows = parse_csv(client.download_report(path))
        assert client.stats.retries == 2
    assert "User Principal Name" in header and list(rows)
    after = sim.control("stats")["calls"]["report:getMailboxUsageDetail"]
    assert after == before + 3  # one fresh link per try


def test_an_expired_link_is_replaced_until_the_policy_gives_up(sim: Sim) -> None:
    sim.control("settings", {"download_ttl_s": 0})
    try:
        with sim.client(policy=RetryPolicy(max_attempts=2, base_s=0.001)) as client:
            with pytest.raises(GraphError, match=r"failed after 2 attempts \(HTTP 410\)"):
                client.download_report(endpoints.report_path(endpoints.EMAIL_ACTIVITY, "D7"))
    finally:
        sim.control("settings", {"download_ttl_s": 300.0})


def test_concealed_names_are_recognised(sim: Sim) -> None:
    sim.control("settings", {"concealed_names": True})
    try:
        with sim.client() as client:
            assert client.report_settings() is True
            _, rows = parse_csv(
                client.download_report(endpoints.report_path(endpoints.ACTIVE_USERS, "D90"))
            )
            assert looks_concealed(row["User Principal Name"] for row in rows)
    finally:
        sim.control("settings", {"concealed_names": False})

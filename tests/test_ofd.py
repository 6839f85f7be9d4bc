"""The issued copy as OFD (GB/T 33190) with its electronic seal (GB/T 38540, SM2/SM3).

The writer (doc_templates/ofd.py) is checked by re-reading the package with the tests' own
reader (ofd_samples.OfdReader); the seal (doc_templates/ofd_seal.py) by the separate verifier
(doc_templates/ofd_verify.py), which parses the zip and the ASN.1 and checks SM3 digests and the
SM2 signature itself.
"""

from __future__ import annotations

from ofd_samples import A4, NS, OfdReader, sample_pdf

from gongwen_engine.doc_templates.ofd import MM_PER_PT, OfdMetadata, pdf_to_ofd

META = OfdMetadata(title="关于开展测试的通知", issuer="山东省妇女联合会", doc_number="鲁妇发〔2012〕10号", issued_on="2012-03-01")


def test_text_stays_text_at_its_place_with_the_red_rule_and_a4_pages() -> None:
    pdf = sample_pdf([("Notice of the test", 100, 700), ("Second line", 100, 650)], rule_y=600)
    reader = OfdReader(pdf_to_ofd(pdf, META))
    pages = reader.pages()
    assert len(pages) == 1
    box = pages[0].find("ofd:Area/ofd:PhysicalBox", NS)
    assert box is not None and [round(float(v)) for v in (box.text or "").split()] == [0, 0, 210, 297]
    assert reader.page_text(pages[0]) == "Notice of the testSecond line"
    first = pages[0].find(".//ofd:TextCode", NS)
    assert first is not None
    assert abs(float(first.get("X", "0")) - 100 * MM_PER_PT) < 0.5
    assert abs(float(first.get("Y", "0")) - (A4[1] - 700) * MM_PER_PT) < 0.5  # the baseline, from the top
    deltas = [float(d) for d in first.get("DeltaX", "").split()]
    assert len(deltas) == len("Notice of the test") - 1 and all(d > 0 for d in deltas)
    rule = pages[0].find(".//ofd:PathObject", NS)
    assert rule is not None
    colour = rule.find("ofd:StrokeColor", NS)
    assert colour is not None and colour.get("Value") == "255 0 0"
    data = (rule.findtext("ofd:AbbreviatedData", namespaces=NS) or "").split()
    assert data[0] == "M" and data[3] == "L"
    assert abs(float(data[2]) - (A4[1] - 600) * MM_PER_PT) < 0.1 and abs(float(data[4]) - 515 * MM_PER_PT) < 0.1


def test_metadata_is_in_docinfo_and_customdatas() -> None:
    info = OfdReader(pdf_to_ofd(sample_pdf([("x", 100, 700)]), META)).info()
    assert info["Title"] == META.title
    assert info["Author"] == META.issuer
    assert info["发文字号"] == "鲁妇发〔2012〕10号"
    assert info["成文日期"] == "2012-03-01"


def test_the_same_pdf_gives_the_same_bytes() -> None:
    pdf = sample_pdf([("same", 100, 700)])
    assert pdf_to_ofd(pdf, META) == pdf_to_ofd(pdf, META)

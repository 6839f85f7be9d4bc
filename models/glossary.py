"""Glossary: the domain terms gongwen uses as names, with the Chinese term once.

Use these words in code, database columns, YAML keys and docs; do not invent synonyms.

| name              | 术语        | meaning |
|-------------------|-------------|---------|
| document          | 公文        | an official document; in the database one issued text (cover letter or original) |
| doc_type          | 文种        | 通知, 意见, 报告, 请示, ... |
| issuer            | 发文机关    | the organisation that issues a document (``Document.org``) |
| issuer_mark       | 发文机关标志 | the red header, e.g. 山东省妇女联合会文件 |
| prefix            | 机关代字    | e.g. 鲁妇发 |
| doc_number        | 发文字号    | {prefix}〔{year}〕{serial}号 |
| signer            | 签发人      | the leader who signs off; printed in upward documents' headers |
| main_recipients   | 主送机关    | |
| cc                | 抄送机关    | |
| issued_on         | 成文日期    | date of writing |
| printed_by / printed_on | 印发机关 / 印发日期 | |
| circulation       | 流转        | one organisation's run of a flow over one document |
| work_item         | 工作项/待办 | one step of a circulation; human ones wait here for a person |
| sign_for          | 签收        | |
| register / register_number | 登记 / 收文登记号 | |
| sign_off          | 签发        | |
| forwarding notice | 转发通知    | the cover letter that forwards a received document |
| delivery          | 分发/核发   | one document delivered to one recipient organisation |
| archive item      | 归档文件（件）| the filing unit of DA/T 22-2015 |
| archive_code      | 档号        | 全宗号-WS·年度-保管期限-机构-件号 |
| fonds             | 全宗号      | |
| retention         | 保管期限    | Y 永久, D30 定期30年, D10 定期10年 |
| archive stamp     | 归档章      | six cells on the first page of a filed copy: 全宗号·年度·件号 / 机构（问题）·保管期限·页数 |
| pages             | 页数        | pages with text of an item, measured with LibreOffice |
| catalogue         | 归档文件目录 | 序号, 档号, 文号, 责任者, 题名, 日期, 密级, 页数, 备注, per year |
| processing_slip   | 文件处理单/收文处理单 | filed first in an incoming item |
| draft_sheet / final_draft | 发文稿纸 / 定稿 | filed after the issued copy in an outgoing item |
| four-properties check | 四性检测 | authenticity 真实性, integrity 完整性, usability 可用性, security 安全性 (DA/T 70-2018) |
| transfer package  | 移交包      | a zip per fonds and year: files + DA/T 46 metadata + digests + history |
| retrieval log     | 利用登记    | who retrieved what from the archive, when |
| audit event       | 审计记录    | who did what, when, to which document |
| seal              | 用印 / 加盖印章 | the issued copy as a PDF with the visible seal, digitally signed (PAdES) for the issuer |
| signed_pdf        | 版式文件（签章） | the sealed PDF beside the .docx; a ``CirculationFile`` role |
| seal check        | 印章核验    | who signed, when, which certificate, unchanged since (``gongwen seal verify``, 签收) |
| specimen seal     | 样章        | the seal drawn where an organisation has no image: a red ring marked 演示用, never realistic |
| receive / received_original | 收文 / 收文原件 | a document from outside registered here; its file kept byte for byte |
| external issuer   | 外单位发文机关 | an issuer outside the organisation tree (``Document.org = external``) |
| reporting deadline | 报送时限   | a date, month end, ten-day period or N working days stated in the body |
| reading           | 收文识别    | the fields read from a received file, each with source and confidence |
| working day       | 工作日      | a day the official arrangement (调休 included) and local closures say offices work |
| time limit        | 办理时限    | a step's due time, in calendar or working days |
| requirement       | 报送要求    | what a document asks recipients to submit, by whom, by when, to which office |
| submission        | 报送        | a unit's upward report (报告, with 签发人) for a requirement and period |
| board             | 督办台账    | who submitted, who is late, who is missing, what was submitted |
| reminder          | 催办        | a reminder before, on or (to the unit's leader) after a due date |
| summary           | 汇总        | the requesting level's report combining the submissions |
| timeliness        | 时效统计    | handling time per step and organisation in working days |
| instruction       | 批示        | a leader's written instruction on a document: the comment of the 批办 step |
| cascade picture   | 级联图      | the organisation tree under a circulation with each recipient's state (web workplace) |
| print view        | 打印预览    | the document as it will print, in HTML from the same layout view as the .docx |
| national cascade  | 全国级联    | 全国妇联's notice forwarded level by level to every county (``gongwen cascade``) |
| division table    | 行政区划代码 | GB/T 2260 codes and names of provinces, prefectures and counties (config/national) |
| organisation batch | 批次        | the circulations one organisation's 核发 started, advanced by one Prefect task run |
"""

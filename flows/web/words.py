"""The web workplace's words (界面用语): every message, hint and label the Python side of the pages
shows — flashes, refusals, form-field names, file roles, status words. The templates hold their
own static page text (headings, column names) and take these by name; the engine's refusals come
in Chinese from the engine (``config/errors.py``). ``tests/test_web_chinese.py`` renders every page
and refusal and fails on a Latin word outside identifiers, codes, numbers and file names."""

from __future__ import annotations

# The files of a circulation (``CirculationFile.role``) as a person names them.
FILE_ROLES = {
    "issued_copy": "正本（.docx）",
    "signed_pdf": "用印件（PDF）",
    "signed_ofd": "用印件（OFD）",
    "draft_sheet": "发文稿纸",
    "processing_slip": "收文处理单",
    "received_original": "收文原件",
    "received_document": "收文",
    "final_draft": "定稿",
    **{f"attachment_{n}": f"附件{n}" for n in range(1, 11)},  # a document's attachment files, filed with the archive item
}

# Form fields by their Chinese names, for "the form is incomplete" pages (a request's field names are code).
FORM_FIELDS = {
    "flow": "流程",
    "doc_type": "文种",
    "title": "标题",
    "body": "正文",
    "file": "来文文件",
    "body_file": "正文文件",
    "attachment_files": "附件文件",
    "outcome": "办理结果",
    "comment": "意见",
    "to": "转给",
    "deputy": "委托给",
    "until": "截止日期",
    "upload": "已上传的文件",
    "account": "用户名",
    "password": "密码",
    "page": "页码",
    "circulation": "流转编号",
    "what": "报送内容",
    "due": "报送时限",
    "form": "报送形式",
    "requirement": "报送要求",
    "unit": "报送单位",
}

# Pages and refusals.
PAGE_NOT_FOUND = "页面不存在。"
BAD_ADDRESS = "页面不存在：地址中的编号无效。"
FROM_MENU = "请从首页的菜单进入。"
INCOMPLETE_FORM = "表单填写不完整或格式不对：{fields}。"
FILL_AND_RESUBMIT = "请返回上一页补全后重新提交。"
GO_BACK_AND_CHECK = "请返回上一页核对后重试。"
UNREADABLE_HINT = "请返回上一页，换一个文件或补充字段后重新上传。"
TOO_LARGE = "上传内容超过 {mb} MB 的上限，未保存任何内容。"
UNKNOWN_COLLEAGUE = "所选的人员不是本单位的同事。"
CHOOSE_FROM_LIST = "请从列表中选择。"
INBOX_HINT = "请回到“待办”列表，办理属于您的事项。"

# A circulation, item or document the person may not see, and one that does not exist, read alike:
# the page reveals nothing about other organisations' circulations (not even that one exists).
NOT_VISIBLE = "无权{doing}{what}：它不存在，或不属于本单位及下级单位。"
ONLY_OWN = "只能查看和办理本单位及下级单位的流转；请从列表中选择。"

# After acting on an item: what happens next, in words (point 6 of issue 22).
ACTED = "已办理：{step} · {outcome}{comment}。"
NEXT_PERSON = "下一环节：{step}，待{who}办理。"
NEXT_SYSTEM = "下一环节：{step}，由系统自动办理。"
FINISHED = "流转已办结。"

# A circulation's state when its current step waits for a person although the runner has not yet
# looked at it (status ``ready`` right after launch): it waits for that person, not for the system.
WAITING_FOR = "待{who}办理"

# Registration (收文登记) with its confirm step.
UPLOAD_GONE = "要确认的上传文件已不存在（已登记、已放弃或已过期）。"
UPLOAD_AGAIN = "请重新上传来文文件。"
REGISTERED = "已收文登记（流转 {circulation}）：{title}"
NO_FILE = "没有选择文件，或文件名无效。"
CHOOSE_FILE = "请选择要登记的收文文件（.docx、.txt 或带文字层的 PDF）。"
NOT_A_RECEIVE_FLOW = "所选的流程不能用于收文。"
CHOOSE_RECEIVE_FLOW = "请在收文页面选择收文流程。"
CONFIDENCE_WORDS = ((0.9, "把握高"), (0.6, "把握中"), (0.0, "把握低，请核对"))
NOT_FOUND_IN_FILE = "未读到，请填写"
NOT_FOUND_OPTIONAL = "未读到（原件没有可不填）"

# The board (督办台账) and 消息.
REQUIREMENT_ADDED = "已登记报送要求 #{id}：{what}，{due}，{count}个单位报送。"
URGED = "已向{unit}催办“{what}”，消息已发给{people}。"
MESSAGES_READ = "已将{count}条消息标为已读。"
NOTHING_TO_PRINT = "流转 {id} 还没有文件可打印。"

# Compose (拟稿发文).
NOT_A_LAUNCH_FLOW = "所选的流程不能用于拟稿发文"
TITLE_NEEDED = "请填写标题"
BODY_NEEDED = "请填写正文（每段一行），或上传在 Word/WPS 中起草的正文（.docx）"
RECIPIENT_NEEDED = "请至少选择一个主送机关"
BAD_ISSUE_DATE = "成文日期“{day}”格式不对，应为 2012-01-31"
LAUNCHED = "已发起：{flow}《{title}》（流转 {id}）"
WORD_BODY_READ = "已从“{name}”读取正文 {count} 段（其中标题层次 {headings} 处），请在下方预览中核对。"
NO_SUCH_ATTACHMENT = "文档 {id} 没有第 {n} 个附件文件。"
NO_RECORD = "流转 {id} 的流程不填发文稿纸或收文处理单。"
NO_CIRCULATION_FILE = "流转 {id} 没有“{role}”文件。"
NO_FILED_FILE = "档号 {code} 没有文件“{name}”。"
FROM_RECORD_PAGE = "请从档案页面上的下载链接下载文件。"
FROM_CIRCULATION_PAGE = "请从流转页面上的“文件”一栏下载。"

# ---- 系统管理 (administration, issue 24) and one's own password -----------------------------------
ADMIN_NOT_ADMINISTRATOR = "{name}（{user}）不是管理员，不能进入系统管理：请由本单位的管理员办理，或请上级管理员授予“管理员”角色。"
PASSWORDS_DIFFER = "两次输入的新密码不一致，请重新输入。"
PASSWORD_CHANGED = "密码已修改。"
ADMIN_PASSWORD_SHOWN = "{name}（{user}）的临时密码（只显示这一次，请当面或电话告知本人）：{password}。对方下次登录时须设置自己的密码。"
ADMIN_SESSIONS_ENDED = "已结束 {user} 的 {n} 个登录会话。"
ADMIN_ACTIONS = {
    "person_added": "添加人员",
    "person_changed": "修改人员",
    "person_disabled": "停用人员",
    "person_enabled": "启用人员",
    "password_reset": "重设密码",
    "password_changed": "本人修改密码",
    "sessions_ended": "结束会话",
    "org_added": "添加单位",
    "org_renamed": "单位更名",
    "department_added": "添加部门",
    "department_renamed": "部门更名",
    "scheme_set": "发文字号方案",
    "calendar_year_set": "录入节假日安排",
    "tree_imported": "导入单位名单",
    "config_imported": "导入配置",
    "seal_uploaded": "上传印章",
}
ADMIN_SEAL_UPLOADED = "印章已上传并通过校验：证书 {subject}，有效期至 {until}，指纹 {digest}…（私钥不再显示）。自下一次用印起使用。"
ADMIN_BAD_DATE = "日期“{text}”写法不对：请写作“年-月-日”，例如 2027-01-01。"
ADMIN_BAD_HOLIDAY = "假日一行“{text}”写法不对：每行写作 名称 起始日期 [结束日期]，例如 春节 2027-02-05 2027-02-12。"

# ---- 预览 on the compose page: the pages as LibreOffice lays them out, checked (services/preview.py)
PREVIEW_PAGES = "按正式版式排出共 {pages} 页（与印制、用印相同的排版）；版式检查："
PREVIEW_NO_PROBLEMS = "未发现问题。"

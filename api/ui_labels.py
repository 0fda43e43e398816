"""Chinese labels of data fields and choices, for the clerk's web pages (identifiers stay English)."""

from __future__ import annotations

FIELDS = {
    "applicants": "申请人（每行一人：姓名,身份证号,电话）", "respondent": "被申请单位", "name": "名称/姓名",
    "uscc": "统一社会信用代码", "id_number": "身份证号", "phone": "电话", "dispute_type": "争议类型",
    "claims": "请求事项", "amount": "涉案金额（元）", "channel": "来源渠道", "note": "备注", "mediator": "调解员",
    "reason": "理由", "parties_consent": "双方当事人均同意延长", "days": "延长天数", "agreement": "调解协议",
    "terms": "协议内容", "perform_by": "履行期限", "kind": "组建方式", "enterprise": "用人单位",
    "insured_staff": "参保人数", "founded_on": "成立日期", "members": "成员单位统一社会信用代码（每行一个）",
    "source": "来源", "street": "所属镇街", "notice_date": "告知书送达日期", "leader": "筹备组组长",
    "prep_group": "筹备组成员（每行一人）", "members_registered": "登记会员人数", "chair": "工会主席",
    "committee": "委员（每行一人）", "approval_no": "批复文号", "six_standards": "“六有”验收",
    "organization": "组织健全", "venue": "服务阵地", "rules": "制度健全", "funds": "经费独立",
    "performance": "会员满意", "member": "会员", "employer": "工作单位/用人单位", "employer_uscc": "用人单位信用代码",
    "claim_type": "报销类型", "hospital": "就诊医院", "admitted_on": "入院日期", "discharged_on": "出院日期",
    "total_cost": "医疗总费用", "insurance_paid": "医保支付", "eligible_self_pay": "合规自付",
    "invoices": "发票（每行一张：发票号,金额）", "documents": "已交材料", "bank_account": "银行账号",
    "documents_required": "需补正材料", "payment_ref": "拨付凭证号", "paid_on": "拨付日期",
    "category": "问题类别", "description": "问题描述", "contact": "联系方式", "anonymous": "匿名反映",
    "opinion": "监督意见", "offices": "联合介入部门", "feedback": "办理结果反馈", "rule": "规则",
    "approved_amount": "核定金额", "amount_computed": "测算金额", "amount_explanation": "金额计算说明",
    "missing_documents": "尚缺材料", "scheme_year": "互助保障年度", "counter_unit": "受理窗口",
    "union_unit": "新建工会", "units_covered": "覆盖单位数", "acknowledged_at": "受理时间", "resolved_at": "办结时间",
    "term_start": "本届任期开始", "term_years": "任期（年）", "term_end": "本届任期届满", "reminder_on": "换届提醒日",
    "planned_on": "计划选举日期", "plan": "换届方案", "elected_on": "选举日期", "election": "选举结果",
    "previous_case": "上一案件", "next_case": "下届案件",
}

CHOICES = {
    "wages": "拖欠工资", "overtime": "加班费", "social_insurance": "社会保险", "injury": "工伤待遇",
    "termination": "解除劳动合同", "other": "其他", "visit": "来访", "phone": "电话", "online": "网上",
    "referral": "转办", "single": "单独组建", "joint": "联合组建", "roster": "参保名单", "manual": "手工录入",
    "inpatient": "住院", "special_outpatient": "门诊特殊病种", "critical_illness": "重大疾病",
    "id_card": "身份证", "bank_card": "银行卡", "invoice": "医疗费用发票", "itemized_bill": "费用明细清单",
    "insurance_settlement": "医保结算单", "discharge_summary": "出院小结", "diagnosis_certificate": "疾病诊断证明书",
    "safety": "安全生产", "overtime_pay": "加班工资", "employment": "劳动用工", "wage_arrears": "欠薪",
    "wechat": "微信平台", "operator": "话务员录入", "labour": "人社部门", "justice": "司法部门",
    "housing": "住建部门", "market": "市场监管部门", "formation": "建会批复", "re_election": "换届批复",
    "import": "台账导入",
}

LEVELS = {"city": "市总工会", "street": "镇（街道）", "enterprise": "基层工会"}
ROLES = {"admin": "管理员", "clerk": "干事", "mediator": "调解员", "reviewer": "审核员", "counter": "服务窗口",
         "viewer": "查看"}


def field_label(name: str) -> str:
    return FIELDS.get(name, name)


def choice_label(value: object) -> str:
    return CHOICES.get(str(value), str(value))

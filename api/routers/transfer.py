"""Import (CSV / XLSX) and export of every kind of record: one router per kind.

`api/app.py` includes these routers before the records' own (`api/routers/organizations.py`), so
`/v1/{plural}/export` is never taken for `/v1/{plural}/{org_id}`.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from api.deps import CurrentPrincipal, SessionDep, require
from api.errors import problem_responses
from api.routers.organizations import FILTERS
from api.routing import UnitOfWorkRoute
from auth.policy import PUBLIC, STAFF
from auth.principals import Principal
from models.organization import RecordKind
from registry import transfer
from registry.errors import Unprocessable
from registry.organizations import KIND_LABEL, OrgFilters

MAX_UPLOAD_BYTES = 20 * 1024 * 1024

# what each kind's import checks, and which restricted values its messages never repeat
_CHECKS = {
    RecordKind.expert: (
        "数据格式、身份证号码(校验位,与出生日期、性别一致)、地区、评审专业(末级)、"
        "文件内重复、已登记的身份证号码、管辖范围",
        "错误说明只指出列名,不回显身份证号码(及其中的出生日期、地址码)和手机号码。",
    ),
    RecordKind.commodity: (
        "数据格式、品目(现行末级)、规格参数(按品目定义的属性与类型)、"
        "文件内重复、已登记的品目+品牌+型号、管辖范围",
        "规格参数写作 `属性=取值`,以 `;` 分隔(属性可用英文名或中文名称)。",
    ),
}
_ORGANIZATION_CHECKS = (
    "数据格式、地区、品目编码、文件内重复、已登记的代码、管辖范围",
    "错误说明只指出列名,不回显身份证号、电话、银行账号等受限字段的值。",
)
_MASKED = {
    RecordKind.expert: "身份证号码和手机号码",
    RecordKind.commodity: "(商品没有受限字段)",
}


def build_router(kind: RecordKind) -> APIRouter:
    plural, label = transfer.PLURAL_BY_KIND[kind].value, KIND_LABEL[kind]
    columns = ",".join(transfer.COLUMNS[kind])
    checks, note = _CHECKS.get(kind, _ORGANIZATION_CHECKS)
    masked = _MASKED.get(kind, "受限字段(身份证号、电话、银行账号)")
    list_filters = FILTERS[kind]  # the list's filters, shared with the list route
    router = APIRouter(prefix=f"/v1/{plural}", tags=[f"{label}库"], route_class=UnitOfWorkRoute)

    @router.post(
        "/import",
        summary=f"批量导入{label}(CSV / XLSX)",
        description=(
            f"每行登记一条{label}草稿(可选同时提交审核),只能登记本辖区内的记录。"
            f"逐行校验({checks}):"
            "任何一行有错时默认整个文件不写入,返回 422 `invalid_rows` 和每一行的错误;"
            "`take_good_rows=true` 时写入正确的行并报告错误的行。"
            f"表头:`{columns}`(也接受中文表头),列表项以 `;` 分隔。{note}"
        ),
        responses=problem_responses(400, 401, 403, 413, 422),
        operation_id=f"import_{plural}",
    )
    async def import_(
        session: SessionDep,
        file: Annotated[
            UploadFile, File(description=f"CSV(UTF-8 或 GB18030)或 XLSX;表头 {columns}")
        ],
        actor: Annotated[Principal, require(STAFF)],
        take_good_rows: Annotated[
            bool, Form(description="有错误行时仍写入正确的行(默认:整个文件不写入)")
        ] = False,
        submit: Annotated[bool, Form(description="导入后直接提交审核")] = False,
    ) -> transfer.ImportReport:
        data = await file.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise Unprocessable(
                "文件超过 20 MB", code="file_too_large", status=413, title="请求体过大"
            )
        report = await run_in_threadpool(
            transfer.import_records,
            session,
            kind=kind,
            data=data,
            filename=file.filename or "upload.csv",
            actor=actor,
            take_good_rows=take_good_rows,
            submit=submit,
        )
        if report.errors and not report.accepted:
            raise Unprocessable(
                f"文件有 {len(report.errors)} 处错误({report.failed} 行),未写入任何数据",
                code="invalid_rows",
                errors=[e.model_dump() for e in report.errors],
                report=report.model_dump(mode="json"),
            )
        return report

    @router.get(
        "/export",
        summary=f"导出{label}(CSV / XLSX)",
        description=(
            "导出调用者能在列表中看到的全部记录(筛选条件与列表相同),列与导入相同,另加 `id`、`status`。"
            f"{masked}按调用者的权限脱敏,与接口读取一致:管辖的财政部门看到明文,公众和其他地区看到脱敏值。"
            "CSV 为带 BOM 的 UTF-8。"
        ),
        dependencies=[require(PUBLIC)],
        response_class=Response,
        responses={
            200: {
                "description": "导出文件(附件)",
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    transfer.CONTENT_TYPES["xlsx"]: {
                        "schema": {"type": "string", "format": "binary"}
                    },
                },
            },
            **problem_responses(400, 422),
        },
        operation_id=f"export_{plural}",
    )
    def export(
        session: SessionDep,
        actor: CurrentPrincipal,
        filters: Annotated[OrgFilters, Depends(list_filters)],
        fmt: Annotated[
            transfer.ExportFormat, Query(alias="format", description="文件格式:csv 或 xlsx")
        ] = "csv",
    ) -> Response:
        content = transfer.export_records(session, kind=kind, actor=actor, filters=filters, fmt=fmt)
        filename = transfer.export_filename(kind, fmt)
        return Response(
            content,
            media_type=transfer.CONTENT_TYPES[fmt],
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    return router


routers = [build_router(kind) for kind in RecordKind]

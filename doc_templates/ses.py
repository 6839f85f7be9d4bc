"""The electronic seal's data structures of GB/T 38540-2020 (安全电子签章密码技术规范, version 4),
in ASN.1 (DER) with asn1crypto, and the SM algorithm identifiers (GM/T 0006).

Only the structures: making a seal is ``ofd_seal.py``, checking one is ``ofd_verify.py``.

    SES_Signature ::= SEQUENCE { toSign TBS_Sign, cert OCTET STRING, signatureAlgID OBJECT
        IDENTIFIER, signature BIT STRING, timeStamp [0] BIT STRING OPTIONAL }
    TBS_Sign ::= SEQUENCE { version INTEGER, eseal SESeal, timeInfo GeneralizedTime,
        dataHash BIT STRING, propertyInfo IA5String, extDatas [0] ExtensionDatas OPTIONAL }
    SESeal ::= SEQUENCE { esealInfo SES_SealInfo, cert OCTET STRING, signAlgID OBJECT
        IDENTIFIER, signedValue BIT STRING }
    SES_SealInfo ::= SEQUENCE { header SES_Header, esID IA5String, property
        SES_ESPropertyInfo, picture SES_ESPictrueInfo, extDatas ExtensionDatas OPTIONAL }
"""

from __future__ import annotations

from typing import Any, ClassVar

from asn1crypto.core import (
    BitString,
    GeneralizedTime,
    IA5String,
    Integer,
    ObjectIdentifier,
    OctetString,
    Sequence,
    SequenceOf,
    UTF8String,
)

SM2_CURVE = "1.2.156.10197.1.301"
SM2_WITH_SM3 = "1.2.156.10197.1.501"
SM3 = "1.2.156.10197.1.401"
SES_VERSION = 4
SM2_USER_ID = b"1234567812345678"  # GB/T 35276 default signer ID, in the Z value


class SesHeader(Sequence):
    _fields: ClassVar[list[Any]] = [("id", IA5String), ("version", Integer), ("vid", IA5String)]


class CertList(SequenceOf):
    _child_spec = OctetString


class SesPropertyInfo(Sequence):
    _fields: ClassVar[list[Any]] = [
        ("type", Integer),  # 1 单位印章
        ("name", UTF8String),
        ("cert_list_type", Integer),  # 1: the certificates themselves
        ("cert_list", CertList),
        ("create_date", GeneralizedTime),
        ("valid_start", GeneralizedTime),
        ("valid_end", GeneralizedTime),
    ]


class SesPictureInfo(Sequence):
    _fields: ClassVar[list[Any]] = [("type", IA5String), ("data", OctetString), ("width", Integer), ("height", Integer)]  # width/height in mm


class SesSealInfo(Sequence):
    _fields: ClassVar[list[Any]] = [("header", SesHeader), ("es_id", IA5String), ("property", SesPropertyInfo), ("picture", SesPictureInfo)]


class SESeal(Sequence):
    _fields: ClassVar[list[Any]] = [("eseal_info", SesSealInfo), ("cert", OctetString), ("sign_alg_id", ObjectIdentifier), ("signed_value", BitString)]


class TbsSign(Sequence):
    _fields: ClassVar[list[Any]] = [
        ("version", Integer),
        ("eseal", SESeal),
        ("time_info", GeneralizedTime),
        ("data_hash", BitString),
        ("property_info", IA5String),
    ]


class SesSignature(Sequence):
    _fields: ClassVar[list[Any]] = [
        ("to_sign", TbsSign),
        ("cert", OctetString),
        ("signature_alg_id", ObjectIdentifier),
        ("signature", BitString),
        ("time_stamp", BitString, {"implicit": 0, "optional": True}),
    ]


class Sm2Signature(Sequence):
    """An SM2 signature value as GM/T 0009 encodes it (r, s)."""

    _fields: ClassVar[list[Any]] = [("r", Integer), ("s", Integer)]

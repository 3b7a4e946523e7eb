"""The reporting API's entity data model: one `EntitySet` declaration per collection, built on
the pydantic record model that also gives the OpenAPI schema, and from those the CSDL
`$metadata` document and the service document (OData v4, JSON and XML as clients read them).

A record model's fields become the entity type's properties: `str`, `bool`, `int`, `float`,
nested models (complex types) and lists of those map to Edm types, and a field annotated with an
`Edm` marker (`DATE`, `DATETIME`, `DECIMAL`, an enum) says what its text holds. Fields whose
values are objects with free keys (`dict`) are left undeclared: the type is then open and
they are its dynamic properties.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

__all__ = [
    "DATE",
    "DATETIME",
    "DECIMAL",
    "NAMESPACE",
    "Edm",
    "EntitySet",
    "Property",
    "csdl",
    "service_document",
]

NAMESPACE = "seatwise"
Model = type[BaseModel]
_PRIMITIVES: dict[type, str] = {
    str: "Edm.String",
    bool: "Edm.Boolean",
    int: "Edm.Int32",
    float: "Edm.Double",
}


@dataclass(frozen=True)
class Edm:
    """What a field's JSON value stands for, when its Python type does not say: `type` an Edm
    primitive, or `enum` the name of an enumeration of the field's `Literal` values."""

    type: str | None = None
    enum: str | None = None


DATE = Edm("Edm.Date")  # ISO 8601 date text
DATETIME = Edm("Edm.DateTimeOffset")  # ISO 8601 timestamp with its offset
DECIMAL = Edm("Edm.Decimal")  # a decimal number written as text (IEEE754Compatible)


@dataclass(frozen=True)
class Property:
    """One structural property: its name, Edm type (`Collection(...)` for lists), whether it may
    be null, the complex type's model or the enum's members when it is one of those."""

    name: str
    type: str
    nullable: bool
    model: Model | None = None
    members: tuple[str, ...] = ()

    @property
    def scalar(self) -> str:
        """The type of one value (the element type of a collection)."""
        return self.type[11:-1] if self.type.startswith("Collection(") else self.type

    @property
    def collection(self) -> bool:
        """Whether the value is a list."""
        return self.type.startswith("Collection(")


def _unwrap(annotation: Any) -> tuple[Any, bool, list[Any]]:
    """(type without None, whether None is allowed, Annotated metadata)."""
    metadata: list[Any] = []
    while get_origin(annotation) is typing.Annotated:
        annotation, *extra = get_args(annotation)
        metadata.extend(extra)
    nullable = False
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        nullable = len(args) < len(get_args(annotation))
        annotation = args[0] if len(args) == 1 else Any
    return annotation, nullable, metadata


def _property(name: str, annotation: Any, metadata: Sequence[Any]) -> Property | None:
    kind, nullable, inner = _unwrap(annotation)
    marker = next((m for m in (*metadata, *inner) if isinstance(m, Edm)), None)
    if marker is not None and marker.enum is not None:
        return Property(name, f"{NAMESPACE}.{marker.enum}", nullable, members=get_args(kind))
    if marker is not None and marker.type is not None:
        return Property(name, marker.type, nullable)
    if get_origin(kind) is list:
        (item,) = get_args(kind)
        element = _property(name, item, ())
        if element is None or element.collection:
            return None
        return Property(name, f"Collection({element.type})", False, element.model)
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return Property(name, f"{NAMESPACE}.{_type_name(kind)}", nullable, kind)
    if get_origin(kind) is Literal:
        return Property(name, "Edm.String", nullable)
    if isinstance(kind, type) and kind in _PRIMITIVES:
        return Property(name, _PRIMITIVES[kind], nullable)
    return None  # an object with free keys: a dynamic property of an open type


@cache
def properties(model: type[BaseModel]) -> tuple[tuple[Property, ...], bool]:
    """The declared properties of `model`'s fields, and whether some are left dynamic (open)."""
    found = []
    open_type = False
    for name, info in model.model_fields.items():
        prop = _property(name, info.annotation, info.metadata)
        if prop is None:
            open_type = True
        else:
            found.append(prop)
    return tuple(found), open_type


def _type_name(model: type[BaseModel]) -> str:
    name = model.__name__
    return name[: -len("Record")] if name.endswith("Record") and len(name) > 6 else name


@dataclass(frozen=True)
class EntitySet:
    """One collection of the service: its name (also its URL path under /api/v1), the record
    model of its entities, their key, and the columns of its CSV answer."""

    name: str
    model: type[BaseModel]
    key: tuple[str, ...]
    csv_keys: tuple[str, ...] = ()
    title: str = ""
    props: dict[str, Property] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        declared, _ = properties(self.model)
        object.__setattr__(self, "props", {p.name: p for p in declared})
        missing = [k for k in self.key if k not in self.props or self.props[k].nullable]
        if missing:
            raise ValueError(f"{self.name}: key properties must be declared, not null: {missing}")

    @property
    def type_name(self) -> str:
        """The entity type's name (in `NAMESPACE`)."""
        return _type_name(self.model)

    @property
    def open(self) -> bool:
        """Whether some properties are dynamic."""
        return properties(self.model)[1]

    @property
    def columns(self) -> tuple[str, ...]:
        """Every key of a record, in order: the CSV's columns unless `csv_keys` says otherwise."""
        return self.csv_keys or tuple(self.model.model_fields)


def _complex_types(sets: Sequence[EntitySet]) -> Iterator[type[BaseModel]]:
    seen: set[type[BaseModel]] = set()
    pending: list[Model] = [p.model for s in sets for p in s.props.values() if p.model is not None]
    while pending:
        model = pending.pop(0)
        if model in seen:
            continue
        seen.add(model)
        yield model
        pending.extend(p.model for p in properties(model)[0] if p.model is not None)


def _enums(sets: Sequence[EntitySet]) -> dict[str, tuple[str, ...]]:
    return {p.type.split(".", 1)[1]: p.members for s in sets for p in s.props.values() if p.members}


def _property_xml(prop: Property) -> str:
    nullable = "" if prop.nullable else ' Nullable="false"'
    # No Scale facet on decimals: "variable" is right, but v2-era readers (pyodata) reject it.
    return f'<Property Name="{prop.name}" Type="{prop.type}"{nullable}/>'


def csdl(sets: Sequence[EntitySet]) -> str:
    """The `$metadata` document (CSDL XML, OData 4.0) of the service made of `sets`."""
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">',
        "<edmx:DataServices>",
        f'<Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="{NAMESPACE}">',
    ]
    for name, members in sorted(_enums(sets).items()):
        lines.append(f'<EnumType Name="{name}">')
        lines += [f'<Member Name="{m}" Value="{i}"/>' for i, m in enumerate(members)]
        lines.append("</EnumType>")
    for model in _complex_types(sets):
        declared, open_type = properties(model)
        opened = ' OpenType="true"' if open_type else ""
        lines.append(f'<ComplexType Name="{_type_name(model)}"{opened}>')
        lines += [_property_xml(p) for p in declared]
        lines.append("</ComplexType>")
    for entity_set in sets:
        opened = ' OpenType="true"' if entity_set.open else ""
        lines.append(f'<EntityType Name="{entity_set.type_name}"{opened}>')
        lines.append("<Key>")
        lines += [f'<PropertyRef Name="{k}"/>' for k in entity_set.key]
        lines.append("</Key>")
        lines += [_property_xml(p) for p in entity_set.props.values()]
        lines.append("</EntityType>")
    lines.append('<EntityContainer Name="Reporting">')
    for entity_set in sets:
        lines.append(
            f'<EntitySet Name="{entity_set.name}" EntityType="{NAMESPACE}.{entity_set.type_name}"/>'
        )
    lines += ["</EntityContainer>", "</Schema>", "</edmx:DataServices>", "</edmx:Edmx>", ""]
    return "\n".join(lines)


def service_document(root: str, sets: Sequence[EntitySet]) -> dict[str, Any]:
    """The service document: every entity set, by name and URL relative to `root`."""
    return {
        "@odata.context": f"{root}/$metadata",
        "value": [{"name": s.name, "kind": "EntitySet", "url": s.name} for s in sets],
    }

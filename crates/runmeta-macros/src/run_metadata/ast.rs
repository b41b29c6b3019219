//! The derive's input, parsed: the struct, its options, and each field with its key.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Type};

use super::attr::{doc_of, serde_names, FieldOpts, StructOpts};
use crate::errors::Errors;

pub(crate) struct Input<'a> {
    pub ident: &'a Ident,
    pub vis: &'a syn::Visibility,
    pub opts: StructOpts,
    pub doc: String,
    /// The rules of the struct's `#[serde(rename_all ...)]`.
    pub serde_rename_all: Vec<LitStr>,
    pub fields: Vec<Field<'a>>,
}

pub(crate) struct Field<'a> {
    pub ident: &'a Ident,
    pub ty: &'a Type,
    /// `T` for `Option<T>`, else the type itself.
    pub inner_ty: &'a Type,
    pub opts: FieldOpts,
    pub doc: String,
    /// The names `#[serde(rename ...)]` gives the field.
    pub serde_renames: Vec<LitStr>,
    /// The metadata key: the `rename` or the field's name.
    pub key: String,
    /// Where the key is written (the `rename` literal or the field's name).
    pub key_span: Span,
}

impl<'a> Input<'a> {
    /// Parses the input; `None` when it is not a struct with named fields.
    pub(crate) fn parse(input: &'a DeriveInput, errors: &mut Errors) -> Option<Self> {
        let named = match &input.data {
            Data::Struct(s) => match &s.fields {
                Fields::Named(named) => named,
                Fields::Unnamed(_) => {
                    errors.error_at(&input.ident, "RunMetadata can only be derived for a struct with named fields, not a tuple struct: each field needs a key");
                    return None;
                }
                Fields::Unit => {
                    errors.error_at(&input.ident, "RunMetadata can only be derived for a struct with named fields, not a unit struct");
                    return None;
                }
            },
            Data::Enum(e) => {
                errors.error_at(e.enum_token, "RunMetadata can only be derived for a struct with named fields, not an enum; for a restricted value, derive MetadataEnum and use it as a field");
                return None;
            }
            Data::Union(u) => {
                errors.error_at(
                    u.union_token,
                    "RunMetadata can only be derived for a struct with named fields, not a union",
                );
                return None;
            }
        };
        if !input.generics.params.is_empty() {
            errors.error_at(&input.generics, "RunMetadata cannot be derived for a generic struct: a schema's fields have fixed types");
            return None;
        }
        let opts = StructOpts::parse(&input.attrs, errors);
        let fields = named
            .named
            .iter()
            .filter_map(|f| {
                let ident = f.ident.as_ref()?;
                let opts = FieldOpts::parse(&f.attrs, errors);
                let (key, key_span) = match &opts.rename {
                    Some(lit) => (lit.value(), lit.span()),
                    None => (ident.unraw().to_string(), ident.span()),
                };
                Some(Field {
                    ident,
                    ty: &f.ty,
                    inner_ty: option_inner(&f.ty).unwrap_or(&f.ty),
                    opts,
                    doc: doc_of(&f.attrs),
                    serde_renames: serde_names(&f.attrs, "rename"),
                    key,
                    key_span,
                })
            })
            .collect();
        Some(Input {
            ident: &input.ident,
            vis: &input.vis,
            opts,
            doc: doc_of(&input.attrs),
            serde_rename_all: serde_names(&input.attrs, "rename_all"),
            fields,
        })
    }
}

use syn::ext::IdentExt;

/// `T` of `Option<T>` (also `std::option::Option<T>`).
pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    if p.qself.is_some() {
        return None;
    }
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(t) if args.args.len() == 1 => Some(t),
        _ => None,
    }
}

/// The last path segment's name of a type (`u8`, `Deadline`, ...), for syntactic checks.
pub(crate) fn type_name(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.to_string()),
        Type::Group(g) => type_name(&g.elem),
        Type::Paren(p) => type_name(&p.elem),
        _ => None,
    }
}

impl Field<'_> {
    /// The span to blame for an error about the key.
    pub(crate) fn key_span(&self) -> Span {
        self.key_span
    }

    /// The field type's span.
    pub(crate) fn ty_span(&self) -> Span {
        self.ty.span()
    }
}

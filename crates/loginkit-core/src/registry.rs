//! Compile-time provider registration (`register_provider!` over `inventory`) and the registry
//! built from what is linked.

use std::sync::OnceLock;

use crate::descriptor::ProviderDescriptor;
use crate::error::Error;
use crate::http::HttpClient;
use crate::provider::{OAuthProvider, ProviderConfig};

/// One provider registration: a descriptor and the crate that submitted it.
#[derive(Debug, Clone, Copy)]
pub struct Registration {
    /// The registered descriptor.
    pub descriptor: &'static ProviderDescriptor,
    /// Package name of the registering crate (for duplicate-id errors).
    pub crate_name: &'static str,
}

impl Registration {
    /// A registration; used by [`register_provider!`](crate::register_provider).
    pub const fn new(descriptor: &'static ProviderDescriptor, crate_name: &'static str) -> Self {
        Self { descriptor, crate_name }
    }
}

inventory::collect!(Registration);

/// Two registrations of one id; kept as data so the process-wide registry can cache it.
#[derive(Debug, Clone, Copy)]
struct Duplicate(Registration, Registration);

impl Duplicate {
    fn into_error(self) -> Error {
        Error::DuplicateProvider {
            id: self.0.descriptor.id,
            first: self.0.crate_name,
            second: self.1.crate_name,
        }
    }
}

/// Registers a provider descriptor with every [`Registry::linked`] registry.
///
/// One line at the root of a provider crate: `loginkit_core::register_provider!(DESCRIPTOR);`.
/// The registration only exists when the crate is linked: the `loginkit` facade links every
/// enabled provider; a crate used directly must be named somewhere (`use my_provider as _;`).
#[macro_export]
macro_rules! register_provider {
    ($descriptor:path) => {
        $crate::__private::inventory::submit! {
            $crate::Registration::new(&$descriptor, ::core::env!("CARGO_PKG_NAME"))
        }
    };
}

/// Providers available to this program, sorted by id.
#[derive(Debug, Clone)]
pub struct Registry {
    entries: Vec<Registration>,
}

impl Registry {
    /// The providers registered by every linked crate.
    pub fn linked() -> Result<Self, Error> {
        Self::from_registrations(inventory::iter::<Registration>.into_iter().copied())
            .map_err(Duplicate::into_error)
    }

    /// [`Registry::linked`], built once per process.
    pub fn global() -> Result<&'static Self, Error> {
        static GLOBAL: OnceLock<Result<Registry, Duplicate>> = OnceLock::new();
        GLOBAL
            .get_or_init(|| Self::from_registrations(inventory::iter::<Registration>.into_iter().copied()))
            .as_ref()
            .map_err(|duplicate| duplicate.into_error())
    }

    /// A registry from an explicit list, for hosts where link-time registration does not run
    /// (staticlib, cdylib, wasm): `Registry::from_descriptors(loginkit::builtin())`.
    pub fn from_descriptors<I>(descriptors: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = &'static ProviderDescriptor>,
    {
        Self::from_registrations(descriptors.into_iter().map(|d| Registration::new(d, "explicit list")))
            .map_err(Duplicate::into_error)
    }

    fn from_registrations(registrations: impl Iterator<Item = Registration>) -> Result<Self, Duplicate> {
        let mut entries: Vec<Registration> = registrations.collect();
        entries.sort_by(|a, b| a.descriptor.id.cmp(b.descriptor.id));
        match entries.windows(2).find(|w| w[0].descriptor.id == w[1].descriptor.id) {
            Some(pair) => Err(Duplicate(pair[0], pair[1])),
            None => Ok(Self { entries }),
        }
    }

    /// Registered ids, sorted.
    pub fn ids(&self) -> Vec<&'static str> {
        self.entries.iter().map(|r| r.descriptor.id).collect()
    }

    /// Registered descriptors, sorted by id.
    pub fn descriptors(&self) -> impl Iterator<Item = &'static ProviderDescriptor> + '_ {
        self.entries.iter().map(|r| r.descriptor)
    }

    /// Number of providers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no provider is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The descriptor of `id`, or an error listing the available ids.
    pub fn get(&self, id: &str) -> Result<&'static ProviderDescriptor, Error> {
        match self.entries.binary_search_by(|r| r.descriptor.id.cmp(id)) {
            Ok(index) => Ok(self.entries[index].descriptor),
            Err(_) => Err(Error::UnknownProvider { id: id.to_owned(), available: self.ids() }),
        }
    }

    /// Builds a configured instance of provider `id`.
    pub fn instantiate(
        &self,
        id: &str,
        config: ProviderConfig,
        http: HttpClient,
    ) -> Result<Box<dyn OAuthProvider>, Error> {
        self.get(id)?.instantiate(config, http)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descriptor::OAuth2Spec;

    const SPEC: OAuth2Spec = OAuth2Spec::new("https://a.example/authorize", "https://a.example/token");
    static ZED: ProviderDescriptor = ProviderDescriptor::new("zed", "Zed", SPEC);
    static ALPHA: ProviderDescriptor = ProviderDescriptor::new("alpha", "Alpha", SPEC);
    static ALPHA_AGAIN: ProviderDescriptor = ProviderDescriptor::new("alpha", "Alpha 2", SPEC);

    #[test]
    fn sorted_by_id() {
        let registry = Registry::from_descriptors([&ZED, &ALPHA]).unwrap();
        assert_eq!(registry.ids(), ["alpha", "zed"]);
        assert_eq!(registry.get("zed").unwrap().display_name, "Zed");
    }

    #[test]
    fn duplicate_ids_are_rejected() {
        let err = Registry::from_descriptors([&ALPHA, &ZED, &ALPHA_AGAIN]).unwrap_err();
        assert!(matches!(err, Error::DuplicateProvider { id: "alpha", .. }), "{err:?}");
    }

    #[test]
    fn unknown_ids_list_what_is_available() {
        let registry = Registry::from_descriptors([&ZED, &ALPHA]).unwrap();
        let err = registry.get("gihtub").unwrap_err();
        assert_eq!(err.to_string(), "unknown provider `gihtub`; available: alpha, zed");
        let empty = Registry::from_descriptors([]).unwrap();
        assert!(empty.is_empty() && empty.get("x").is_err());
    }

    #[test]
    fn core_alone_links_no_provider() {
        assert!(Registry::linked().unwrap().is_empty());
    }
}

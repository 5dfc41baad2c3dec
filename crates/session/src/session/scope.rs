//! [`OpenSession`]: the guard that closes an open session on every exit path.

use super::*;

impl<S, K> Session<S, K>
where
    S: StoreObject + ?Sized + 'static,
    K: ValueCodec + Clone + 'static,
{
    /// Opens the session and returns a guard that closes it when dropped (at the end of
    /// the scope, on early return and on error alike).
    ///
    /// # Errors
    /// As [`Session::open`].
    pub fn scope(&mut self) -> Result<OpenSession<'_, S, K>, StoreError> {
        self.open()?;
        Ok(OpenSession { session: self })
    }
}

/// A session opened by [`Session::scope`]: used like the session itself, closed when
/// dropped.
pub struct OpenSession<'a, S: StoreObject + ?Sized + 'static, K: ValueCodec + Clone + 'static> {
    pub(super) session: &'a mut Session<S, K>,
}

impl<S: StoreObject + ?Sized + 'static, K: ValueCodec + Clone + 'static> Deref
    for OpenSession<'_, S, K>
{
    type Target = Session<S, K>;
    fn deref(&self) -> &Self::Target {
        self.session
    }
}

impl<S: StoreObject + ?Sized + 'static, K: ValueCodec + Clone + 'static> DerefMut
    for OpenSession<'_, S, K>
{
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.session
    }
}

impl<S: StoreObject + ?Sized + 'static, K: ValueCodec + Clone + 'static> Drop
    for OpenSession<'_, S, K>
{
    fn drop(&mut self) {
        self.session.close();
    }
}

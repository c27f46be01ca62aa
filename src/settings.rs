//! Typed settings: embedded defaults < user file < `WREN__SECTION__KEY` environment.

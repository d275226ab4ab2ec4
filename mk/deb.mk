# ------------------------------------------------------------------ deb
# make deb: the Debian packages (debian/), built with dpkg-buildpackage from
# a copy of the tracked sources in build/deb/, then checked by lintian. The
# .deb files land in build/deb/. Installs the packaging tools if missing
# (as root; otherwise it names them). make package-test (root) installs them into
# this machine's nginx, serves a Starlette app and purges them.

DEB_DIR := $(B)/deb
DEB_SRC := $(DEB_DIR)/asgicore-$(VERSION)

deb:
	@sh tools/ensure-packages $$(sh tools/packages build package)
	@test "$$(dpkg-parsechangelog -S Version)" = "$(VERSION)" || { \
		echo "debian/changelog's version is not $(VERSION), the" \
		"header's: add a changelog entry"; exit 1; }
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_SRC)
	if [ -d .git ]; then git ls-files -z --cached --others --exclude-standard | xargs -0 tar cf - ; \
	else tar cf - --exclude=./$(B) --exclude=./.git . ; fi \
		| tar xf - -C $(DEB_SRC)
	cd $(DEB_SRC) && dpkg-buildpackage -us -uc -b > ../build.log 2>&1 \
		|| { tail -40 ../build.log; exit 1; }
	lintian --info --pedantic --fail-on error,warning,info,pedantic \
		$(DEB_DIR)/*.changes
	@ls $(DEB_DIR)/*.deb

package-test: deb
	sh tools/check-packages $(DEB_DIR)

.PHONY: deb package-test

# Shortcuts for the scripts; each installs what the machine lacks.
.PHONY: demo test bench lint-deploy
demo:
	scripts/demo.sh
test:
	scripts/test.sh
bench:
	scripts/bench.sh
lint-deploy:
	scripts/lint-deploy.sh

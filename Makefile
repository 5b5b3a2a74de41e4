# Shortcuts for the scripts; each installs what the machine lacks.
.PHONY: demo test bench lint-deploy soak fmt
demo:
	scripts/demo.sh
test:
	scripts/test.sh
bench:
	scripts/bench.sh
lint-deploy:
	scripts/lint-deploy.sh
fmt:
	scripts/fmt.sh
soak:
	scripts/setup.sh
	HOOKGATE_SOAK_EVENTS=$${HOOKGATE_SOAK_EVENTS:-20000} cargo test --locked --release --test it soak -- --nocapture

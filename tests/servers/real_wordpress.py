"""A real WordPress (Debian's `wordpress` package) on PHP's built-in web server and this machine's MariaDB.

For the integration tier: `RealWordPress()` creates a fresh MariaDB database, writes a Debian host config
(/etc/wordpress/config-<name>.php, chosen through WORDPRESS_CONFIG so that parallel runs never share one),
installs WordPress with a PHP CLI script (wp_install, pretty permalinks so that /wp-json/ routes, an
application password for the admin), then serves /usr/share/wordpress with `php -S 127.0.0.1:<port>`.
Everything is removed on exit: the server process, the database, the config file, the temporary scripts.

`missing()` says why it cannot run here (no PHP, no WordPress, no MariaDB, /etc/wordpress not writable).
The database server is BEFFROI_TEST_MARIADB_{HOST,PORT,USER,PASSWORD} (default root without password on
127.0.0.1:3306). WordPress is kept off the internet (WP_HTTP_BLOCK_EXTERNAL, no cron, no updates).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

WORDPRESS = Path("/usr/share/wordpress")
CONFIG_DIR = Path("/etc/wordpress")
DB_HOST = os.environ.get("BEFFROI_TEST_MARIADB_HOST", "127.0.0.1")
DB_PORT = os.environ.get("BEFFROI_TEST_MARIADB_PORT", "3306")
DB_USER = os.environ.get("BEFFROI_TEST_MARIADB_USER", "root")
DB_PASSWORD = os.environ.get("BEFFROI_TEST_MARIADB_PASSWORD", "")
ADMIN, ADMIN_NAME = "admin", "Service communication"

# PHP's built-in server routes every request here: the config name is passed on, real .php files run,
# static files are served as they are, anything else (/wp-json/..., pretty permalinks) goes to index.php.
ROUTER = r"""<?php
$_SERVER['WORDPRESS_CONFIG'] = getenv('WORDPRESS_CONFIG');
$__bf_root = rtrim($_SERVER['DOCUMENT_ROOT'], '/');
$__bf_path = urldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) ?? '/');
$__bf_file = realpath($__bf_root . $__bf_path);
if ($__bf_file !== false && is_dir($__bf_file)) {
    $__bf_file = realpath($__bf_file . '/index.php');
}
if ($__bf_file !== false && is_file($__bf_file) && str_starts_with($__bf_file, $__bf_root . '/')) {
    if (substr($__bf_file, -4) !== '.php') {
        return false;
    }
    $__bf_script = $__bf_file;
} else {
    $__bf_script = $__bf_root . '/index.php';
}
$_SERVER['SCRIPT_FILENAME'] = $__bf_script;
$_SERVER['SCRIPT_NAME'] = $_SERVER['PHP_SELF'] = substr($__bf_script, strlen($__bf_root));
chdir(dirname($__bf_script));
unset($__bf_root, $__bf_path, $__bf_file);
require $__bf_script;
"""

# Run once with the PHP CLI: installs the site and prints {"user_id", "application_password"} as JSON.
SETUP = r"""<?php
[, $config, $host, $user, $name, $password, $email] = $argv;
$_SERVER['WORDPRESS_CONFIG'] = $config;
$_SERVER['HTTP_HOST'] = $host;
$_SERVER['SERVER_NAME'] = '127.0.0.1';
$_SERVER['REQUEST_URI'] = '/';
define('WP_INSTALLING', true);
function wp_new_blog_notification($blog_title, $blog_url, $user_id, $password) {}  // no mail
require '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
$installed = wp_install('Beffroi integration', $user, $email, false, '', wp_slash($password));
$user_id = $installed['user_id'];
wp_update_user(['ID' => $user_id, 'display_name' => $name]);
global $wp_rewrite;
$wp_rewrite->set_permalink_structure('/%year%/%monthnum%/%day%/%postname%/');
flush_rewrite_rules(false);  // rules in the database only; no .htaccess
$created = WP_Application_Passwords::create_new_application_password($user_id, ['name' => 'beffroi']);
if (is_wp_error($created)) {
    fwrite(STDERR, $created->get_error_message() . "\n");
    exit(1);
}
echo json_encode(['user_id' => $user_id, 'application_password' => $created[0]]);
"""


def _mysql(*sql: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MYSQL_PWD": DB_PASSWORD}
    return subprocess.run(["mysql", "-h", DB_HOST, "-P", DB_PORT, "-u", DB_USER, "--batch", "-e", ";".join(sql)],
                          env=env, capture_output=True, text=True, timeout=30)


def missing() -> str | None:
    """Why a real WordPress cannot be run on this machine (None when it can)."""
    if shutil.which("php") is None or not (WORDPRESS / "wp-load.php").is_file():
        return "needs Debian's wordpress and php-cli packages (.ci/run installs them: apt-get install wordpress " \
               "php-cli php-mysql)"
    if subprocess.run(["php", "-r", "exit(extension_loaded('mysqli') ? 0 : 1);"]).returncode != 0:
        return "needs PHP's mysqli extension (apt-get install php-mysql)"
    if shutil.which("mysql") is None:
        return "needs the mysql/mariadb client"
    try:
        probe = _mysql("SELECT 1")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot reach MariaDB at {DB_HOST}:{DB_PORT}: {exc}"
    if probe.returncode != 0:
        return f"cannot reach MariaDB at {DB_HOST}:{DB_PORT} as {DB_USER}: {probe.stderr.strip()}"
    if not os.access(CONFIG_DIR, os.W_OK):
        return f"needs to write a site config into {CONFIG_DIR} (run as root, as CI does)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RealWordPress:
    """A fresh WordPress site at `url`; `username` / `application_password` sign in to its REST API."""

    def __init__(self) -> None:
        self.key = secrets.token_hex(6)
        self.name = f"beffroi-test-{self.key}"
        self.database = f"wp_{self.key}"
        self.config = CONFIG_DIR / f"config-{self.name}.php"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.username = ADMIN
        self.display_name = ADMIN_NAME
        self.application_password = ""
        self.process: subprocess.Popen | None = None
        self.workdir = Path(tempfile.mkdtemp(prefix="beffroi-wp-"))
        self.log = self.workdir / "php-server.log"

    # -- lifecycle --------------------------------------------------------------------------------
    def __enter__(self) -> RealWordPress:
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self) -> None:
        created = _mysql(f"CREATE DATABASE `{self.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        if created.returncode != 0:
            raise RuntimeError(f"cannot create database {self.database}: {created.stderr.strip()}")
        self._write_config()
        (self.workdir / "router.php").write_text(ROUTER)
        (self.workdir / "setup.php").write_text(SETUP)
        setup = subprocess.run(
            ["php", str(self.workdir / "setup.php"), self.name, f"127.0.0.1:{self.port}", self.username,
             self.display_name, secrets.token_urlsafe(16), "admin@beffroi.test"],
            capture_output=True, text=True, timeout=60)
        if setup.returncode != 0:
            raise RuntimeError(f"WordPress install failed ({setup.returncode}): {setup.stderr[-2000:]}"
                               f"{setup.stdout[-2000:]}")
        self.application_password = json.loads(setup.stdout.strip().splitlines()[-1])["application_password"]
        env = {**os.environ, "WORDPRESS_CONFIG": self.name, "PHP_CLI_SERVER_WORKERS": "4"}
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                ["php", "-S", f"127.0.0.1:{self.port}", "-t", str(WORDPRESS), str(self.workdir / "router.php")],
                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)  # its own process group: the workers are stopped with it
        self._wait_ready()

    def _write_config(self) -> None:
        salts = "\n".join(f"define('{k}', '{secrets.token_hex(32)}');" for k in (
            "AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY",
            "AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT"))
        self.config.write_text(f"""<?php
// Written by Beffroi's integration tests ({__name__}); removed when they end.
define('DB_NAME', '{self.database}');
define('DB_USER', {json.dumps(DB_USER)});
define('DB_PASSWORD', {json.dumps(DB_PASSWORD)});
define('DB_HOST', '{DB_HOST}:{DB_PORT}');
define('DB_CHARSET', 'utf8mb4');
define('WP_HOME', '{self.url}');
define('WP_SITEURL', '{self.url}');
define('WP_ENVIRONMENT_TYPE', 'local');  // application passwords over plain http
define('DISABLE_WP_CRON', true);
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_DEBUG', false);
{salts}
""")
        self.config.chmod(0o640)

    def _wait_ready(self, limit: float = 20.0) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"php -S exited ({self.process.returncode}): {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/wp-json/", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"WordPress did not answer at {self.url}/wp-json/: {self.log.read_text()[-2000:]}")

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self._signal(signal.SIGTERM)  # the server and its PHP_CLI_SERVER_WORKERS (which outlive a lone parent)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait(5)
        self.config.unlink(missing_ok=True)
        try:
            _mysql(f"DROP DATABASE IF EXISTS `{self.database}`")
        except (OSError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.process.pid, sig)  # the group start_new_session made for this server only
        except ProcessLookupError:
            pass

    # -- the REST API, as the site's admin ----------------------------------------------------------
    def api(self, method: str, route: str, **kwargs) -> httpx.Response:
        return httpx.request(method, f"{self.url}/wp-json/wp/v2/{route}", auth=(self.username,
                             self.application_password), timeout=15, **kwargs)

    def publish(self, title: str, content: str = "") -> dict:
        response = self.api("POST", "posts", json={"title": title, "content": content, "status": "publish"})
        response.raise_for_status()
        return response.json()

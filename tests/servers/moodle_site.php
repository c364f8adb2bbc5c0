<?php
// An administrator's hand on a real Moodle site, for the connector's tests.
//
//   php moodle_site.php CONFIG_PHP ACTION '{json arguments}'
//
// Prints one JSON document: the action's result, or {"error": "..."} with exit code 1.
// Everything here is what an administrator does in the site's pages or with its CLI scripts;
// the connector itself only ever talks to the site through web services.

define('CLI_SCRIPT', true);

if ($argc < 3) {
    fwrite(STDERR, "usage: php moodle_site.php CONFIG_PHP ACTION [JSON]\n");
    exit(2);
}
require($argv[1]);
require_once($CFG->dirroot . '/course/lib.php');
require_once($CFG->dirroot . '/user/lib.php');
require_once($CFG->dirroot . '/cohort/lib.php');
require_once($CFG->libdir . '/enrollib.php');
require_once($CFG->libdir . '/completionlib.php');
require_once($CFG->dirroot . '/completion/criteria/completion_criteria_self.php');
require_once($CFG->dirroot . '/completion/completion_completion.php');
require_once($CFG->dirroot . '/completion/completion_criteria_completion.php');

$action = $argv[2];
$args = $argc > 3 ? json_decode($argv[3], true) : [];
\core\session\manager::set_user(get_admin());

/** The course by short name or id. */
function upskill_course($ref) {
    global $DB;
    if (is_int($ref) || ctype_digit((string)$ref)) {
        return $DB->get_record('course', ['id' => (int)$ref], '*', MUST_EXIST);
    }
    return $DB->get_record('course', ['shortname' => $ref], '*', MUST_EXIST);
}

/** The user by username or id. */
function upskill_user($ref) {
    global $DB;
    if (is_int($ref) || ctype_digit((string)$ref)) {
        return $DB->get_record('user', ['id' => (int)$ref], '*', MUST_EXIST);
    }
    return $DB->get_record('user', ['username' => $ref, 'deleted' => 0], '*', MUST_EXIST);
}

function upskill_student_role() {
    global $DB;
    return $DB->get_record('role', ['shortname' => 'student'], '*', MUST_EXIST);
}

/** Web services, REST, completion, the enrolment plugins and the identity fields. */
function upskill_site_settings($identity) {
    set_config('enablewebservices', 1);
    set_config('webserviceprotocols', 'rest');
    set_config('enablecompletion', 1);
    set_config('enrol_plugins_enabled', 'manual,guest,self,cohort');
    set_config('showuseridentity', $identity);
    // Cohort sync: leaving the cohort suspends the enrolment and keeps grades.
    set_config('unenrolaction', ENROL_EXT_REMOVED_SUSPEND, 'enrol_cohort');
    // Moodle's own default for a production site, said here so that a dev install agrees.
    set_config('debug', 0);
    set_config('debugdisplay', 0);
}

/** The account named $username (created, with a password nobody knows, when missing). */
function upskill_account($username, $lastname) {
    global $DB, $CFG;
    $user = $DB->get_record('user', ['username' => $username]);
    if (!$user) {
        $id = user_create_user((object)[
            'username' => $username, 'auth' => 'manual', 'confirmed' => 1,
            'mnethostid' => $CFG->mnet_localhost_id, 'firstname' => 'Upskill',
            'lastname' => $lastname, 'email' => $username . '@example.org',
            'password' => 'Not-used-1!' . random_string(12),
        ], true, false);
        $user = $DB->get_record('user', ['id' => $id], '*', MUST_EXIST);
    }
    return $user;
}

/** The dedicated web-service user, its role with exactly these capabilities, the external
 * service with these functions, and a token. */
function upskill_web_service_user($args) {
    global $DB, $CFG;
    $syscontext = context_system::instance();
    $user = upskill_account($args['username'], 'Connector');
    $role = $DB->get_record('role', ['shortname' => 'upskillws']);
    $roleid = $role ? $role->id : create_role('Upskill web service', 'upskillws',
        'The upskill connector\'s web-service user', '');
    set_role_contextlevels($roleid, [CONTEXT_SYSTEM]);
    foreach ($args['capabilities'] as $capability) {
        assign_capability($capability, CAP_ALLOW, $roleid, $syscontext->id, true);
    }
    if (!empty($args['assign_student'])) {
        core_role_set_assign_allowed($roleid, upskill_student_role()->id);
    }
    role_assign($roleid, $user->id, $syscontext->id);

    $service = $DB->get_record('external_services', ['shortname' => 'upskill']);
    if (!$service) {
        $service = (object)['name' => 'Upskill connector', 'shortname' => 'upskill', 'enabled' => 1,
            'restrictedusers' => 1, 'requiredcapability' => '', 'downloadfiles' => 0,
            'uploadfiles' => 0, 'timecreated' => time(), 'timemodified' => time()];
        $service->id = $DB->insert_record('external_services', $service);
    }
    $DB->delete_records('external_services_functions', ['externalserviceid' => $service->id]);
    foreach ($args['functions'] as $function) {
        $DB->insert_record('external_services_functions',
            (object)['externalserviceid' => $service->id, 'functionname' => $function]);
    }
    if (!$DB->record_exists('external_services_users',
            ['externalserviceid' => $service->id, 'userid' => $user->id])) {
        $DB->insert_record('external_services_users', (object)['externalserviceid' => $service->id,
            'userid' => $user->id, 'timecreated' => time()]);
    }
    $token = \core_external\util::generate_token(EXTERNAL_TOKEN_PERMANENT, $service, $user->id,
        $syscontext, 0, '', 'upskill connector');
    accesslib_clear_role_cache($roleid ?? $args["roleid"]);
    return ['token' => $token, 'userid' => (int)$user->id, 'roleid' => (int)$roleid,
        'serviceid' => (int)$service->id];
}

/** The user of the plugin's ready set-up: a user given the role local_upskill created, and a
 * token for the service local_upskill predefines (what the README tells an administrator). */
function upskill_plugin_user($args) {
    global $DB, $CFG;
    $syscontext = context_system::instance();
    $user = upskill_account($args['username'], 'Plugin');
    $role = $DB->get_record('role', ['shortname' => 'upskillconnector'], '*', MUST_EXIST);
    role_assign($role->id, $user->id, $syscontext->id);
    $service = $DB->get_record('external_services', ['shortname' => 'local_upskill'], '*', MUST_EXIST);
    $token = \core_external\util::generate_token(EXTERNAL_TOKEN_PERMANENT, $service, $user->id,
        $syscontext, 0, '', 'upskill connector (plugin)');
    return ['token' => $token, 'userid' => (int)$user->id, 'roleid' => (int)$role->id,
        'serviceid' => (int)$service->id, 'enabled' => (bool)$service->enabled,
        'restrictedusers' => (bool)$service->restrictedusers,
        'version' => (int)get_config('local_upskill', 'version')];
}

/** What a role allows in the system context, and what a service holds. */
function upskill_role_and_service($args) {
    global $DB;
    $role = $DB->get_record('role', ['shortname' => $args['role']], '*', MUST_EXIST);
    $caps = $DB->get_fieldset_select('role_capabilities', 'capability',
        'roleid = ? AND contextid = ? AND permission = ?', [$role->id, context_system::instance()->id, CAP_ALLOW]);
    sort($caps);
    $levels = array_map('intval', array_values(get_role_contextlevels($role->id)));
    $assignable = $DB->get_fieldset_sql('SELECT r.shortname FROM {role_allow_assign} a JOIN {role} r ON r.id = a.allowassign
        WHERE a.roleid = ?', [$role->id]);
    $service = $DB->get_record('external_services', ['shortname' => $args['service']], '*', MUST_EXIST);
    $functions = $DB->get_fieldset_select('external_services_functions', 'functionname',
        'externalserviceid = ?', [$service->id]);
    sort($functions);
    return ['capabilities' => $caps, 'contextlevels' => $levels, 'assignable' => $assignable,
        'functions' => $functions, 'service_enabled' => (bool)$service->enabled,
        'component' => $service->component];
}

/** A course with completion on, a self-completion criterion (so that the completion status
 * has a criterion to report, as any real course has) and, when asked, a manual instance. */
function upskill_create_course($args) {
    global $DB;
    $course = $DB->get_record('course', ['shortname' => $args['shortname']]);
    if (!$course) {
        $course = create_course((object)[
            'category' => $DB->get_field_select('course_categories', 'MIN(id)', '1=1'),
            'shortname' => $args['shortname'], 'fullname' => $args['fullname'] ?? $args['shortname'],
            'idnumber' => $args['idnumber'] ?? '',
            'enablecompletion' => empty($args['completion']) && isset($args['completion']) ? 0 : 1,
        ]);
        $criterion = new completion_criteria_self();
        $config = (object)['id' => $course->id, 'criteria_self' => 1];
        $criterion->update_config($config);
        $DB->insert_record('course_completion_aggr_methd', (object)['course' => $course->id,
            'criteriatype' => null, 'method' => COMPLETION_AGGREGATION_ALL, 'value' => null]);
    }
    $manual = enrol_get_plugin('manual');
    $instance = $DB->get_record('enrol', ['courseid' => $course->id, 'enrol' => 'manual']);
    $wantmanual = !isset($args['manual']) || $args['manual'];
    if ($wantmanual && !$instance) {
        $manual->add_default_instance($course);
    } else if (!$wantmanual && $instance) {
        $manual->delete_instance($instance);
    }
    return upskill_course_row($course->id);
}

function upskill_course_row($id) {
    global $DB;
    $course = $DB->get_record('course', ['id' => $id], 'id, shortname, fullname, idnumber, enablecompletion');
    return ['id' => (int)$course->id, 'shortname' => $course->shortname, 'fullname' => $course->fullname,
        'idnumber' => $course->idnumber, 'completion' => (bool)$course->enablecompletion];
}

/** Every enrolment of a course (or all courses): user, method, status as Moodle counts it. */
function upskill_enrolments($args) {
    global $DB;
    $params = [];
    $where = 'c.id <> :site';
    $params['site'] = SITEID;
    if (isset($args['course'])) {
        $where .= ' AND c.id = :course';
        $params['course'] = upskill_course($args['course'])->id;
    }
    $rows = $DB->get_records_sql("
        SELECT ue.id, ue.userid, u.username, c.id AS courseid, c.shortname, e.enrol, e.status AS estatus,
               ue.status, ue.timestart, ue.timeend
          FROM {user_enrolments} ue
          JOIN {enrol} e ON e.id = ue.enrolid
          JOIN {course} c ON c.id = e.courseid
          JOIN {user} u ON u.id = ue.userid
         WHERE $where
      ORDER BY c.id, ue.userid, e.enrol", $params);
    $out = [];
    foreach ($rows as $row) {
        $context = context_course::instance($row->courseid);
        $roles = array_values(array_map(fn($r) => $r->shortname,
            get_user_roles($context, $row->userid, false)));
        $out[] = ['userid' => (int)$row->userid, 'username' => $row->username,
            'courseid' => (int)$row->courseid, 'shortname' => $row->shortname, 'method' => $row->enrol,
            'status' => ($row->status == ENROL_USER_ACTIVE && $row->estatus == ENROL_INSTANCE_ENABLED)
                ? 'active' : 'suspended',
            'timestart' => (int)$row->timestart, 'timeend' => (int)$row->timeend, 'roles' => $roles];
    }
    return $out;
}

function upskill_mark_completed($args) {
    global $DB;
    $user = upskill_user($args['user']);
    $course = upskill_course($args['course']);
    $time = $args['time'] ?? time();
    if (isset($args['completed']) && !$args['completed']) {
        $DB->delete_records('course_completions', ['userid' => $user->id, 'course' => $course->id]);
        $DB->delete_records('course_completion_crit_compl', ['userid' => $user->id, 'course' => $course->id]);
        return ['completed' => false];
    }
    foreach ($DB->get_records('course_completion_criteria', ['course' => $course->id]) as $crit) {
        $done = new completion_criteria_completion(['userid' => $user->id, 'course' => $course->id,
            'criteriaid' => $crit->id], true);
        if (!$done->is_complete()) {
            $done->mark_complete($time);
        }
    }
    $completion = new completion_completion(['userid' => $user->id, 'course' => $course->id]);
    if (!$completion->is_complete()) {
        $completion->mark_complete($time);
    }
    return ['completed' => true, 'time' => (int)$time];
}

/** Pages with manual completion tracking: what a course's progress counts. */
function upskill_add_activities($args) {
    global $CFG;
    require_once($CFG->libdir . '/testing/generator/lib.php');
    $course = upskill_course($args['course']);
    $generator = new testing_data_generator();
    $made = [];
    for ($i = 0; $i < (int)$args['count']; $i++) {
        $page = $generator->create_module('page', ['course' => $course->id,
            'completion' => COMPLETION_TRACKING_MANUAL, 'name' => 'Part ' . ($i + 1)]);
        $made[] = (int)$page->cmid;
    }
    return ['activities' => $made];
}

/** The learner ticks the first COUNT activities of the course as done. */
function upskill_complete_activities($args) {
    $user = upskill_user($args['user']);
    $course = upskill_course($args['course']);
    $completion = new completion_info($course);
    $done = 0;
    foreach ($completion->get_activities() as $cm) {
        if ($done >= (int)$args['count']) {
            break;
        }
        $completion->update_state($cm, COMPLETION_COMPLETE, $user->id);
        $done++;
    }
    return ['completed' => $done];
}

function upskill_users() {
    global $DB;
    $rows = $DB->get_records_select('user', 'deleted = 0 AND id > 2 AND username NOT IN (:ws, :plugin)',
        ['ws' => 'ws-upskill', 'plugin' => 'ws-upskill-plugin'], 'id', 'id, username, email, idnumber, firstname, lastname, suspended, auth');
    return array_values(array_map(fn($u) => ['id' => (int)$u->id, 'username' => $u->username,
        'email' => $u->email, 'idnumber' => $u->idnumber, 'firstname' => $u->firstname,
        'lastname' => $u->lastname, 'suspended' => (bool)$u->suspended, 'auth' => $u->auth], $rows));
}

function upskill_link_cohort($args) {
    global $DB;
    $course = upskill_course($args['course']);
    $cohort = $DB->get_record('cohort', ['idnumber' => $args['cohort']], '*', MUST_EXIST);
    $plugin = enrol_get_plugin('cohort');
    $id = $plugin->add_instance($course, ['customint1' => $cohort->id,
        'roleid' => upskill_student_role()->id, 'customint2' => 0]);
    return ['instance' => (int)$id];
}

function upskill_cohorts() {
    global $DB;
    $out = [];
    foreach ($DB->get_records('cohort', null, 'id') as $cohort) {
        $members = $DB->get_fieldset_select('cohort_members', 'userid', 'cohortid = ?', [$cohort->id]);
        $out[] = ['id' => (int)$cohort->id, 'idnumber' => $cohort->idnumber, 'name' => $cohort->name,
            'members' => array_map('intval', $members)];
    }
    return $out;
}

/** An administrator changes one enrolment by hand: suspend, reactivate or unenrol. */
function upskill_hand_enrolment($args) {
    global $DB;
    $user = upskill_user($args['user']);
    $course = upskill_course($args['course']);
    $method = $args['method'] ?? 'manual';
    // The method's instance that holds the user's enrolment (a course may hold a disabled
    // Cohort sync method of a deleted cohort beside a new one), else its first.
    $instance = $DB->get_record_sql("SELECT e.* FROM {enrol} e JOIN {user_enrolments} ue
        ON ue.enrolid = e.id AND ue.userid = ? WHERE e.courseid = ? AND e.enrol = ?
        ORDER BY e.status, e.id", [$user->id, $course->id, $method], IGNORE_MULTIPLE)
        ?: $DB->get_record('enrol', ['courseid' => $course->id, 'enrol' => $method], '*', MUST_EXIST);
    $plugin = enrol_get_plugin($method);
    if ($args['change'] === 'unenrol') {
        $plugin->unenrol_user($instance, $user->id);
    } else if ($args['change'] === 'enrol') {
        $plugin->enrol_user($instance, $user->id, upskill_student_role()->id);
    } else {
        $status = $args['change'] === 'suspend' ? ENROL_USER_SUSPENDED : ENROL_USER_ACTIVE;
        $plugin->update_user_enrol($instance, $user->id, $status);
    }
    return ['done' => $args['change']];
}

function upskill_delete_user($args) {
    delete_user(upskill_user($args['user']));
    return ['deleted' => true];
}

function upskill_update_user($args) {
    $user = upskill_user($args['user']);
    $changes = (object)$args['changes'];
    $changes->id = $user->id;
    user_update_user($changes, false, false);
    return ['updated' => true];
}

function upskill_create_user($args) {
    global $CFG;
    $id = user_create_user((object)array_merge(['auth' => 'manual', 'confirmed' => 1,
        'mnethostid' => $CFG->mnet_localhost_id, 'password' => 'Not-used-1!' . random_string(12)],
        $args), true, false);
    return ['id' => (int)$id];
}

function upskill_grade($args) {
    // A grade in the course's own grade item: what unenrolment deletes and suspension keeps.
    global $CFG, $DB;
    require_once($CFG->libdir . '/gradelib.php');
    $user = upskill_user($args['user']);
    $course = upskill_course($args['course']);
    $item = grade_item::fetch_course_item($course->id);
    if (isset($args['grade'])) {
        $item->update_final_grade($user->id, $args['grade'], 'upskilltest');
    }
    $grade = $DB->get_record('grade_grades', ['itemid' => $item->id, 'userid' => $user->id]);
    return ['grade' => $grade && $grade->finalgrade !== null ? (float)$grade->finalgrade : null];
}

try {
    switch ($action) {
        case 'setup':
            upskill_site_settings($args['showuseridentity']);
            $result = upskill_web_service_user($args);
            foreach ($args['courses'] as $course) {
                upskill_create_course($course);
            }
            break;
        case 'plugin_user':
            $result = upskill_plugin_user($args);
            break;
        case 'role_and_service':
            $result = upskill_role_and_service($args);
            break;
        case 'web_service_user':
            $result = upskill_web_service_user($args);
            break;
        case 'config':
            foreach ($args as $name => $value) {
                $parts = explode('/', $name, 2);
                count($parts) === 2 ? set_config($parts[1], $value, $parts[0]) : set_config($name, $value);
            }
            $result = ['set' => array_keys($args)];
            break;
        case 'unassign_capability':
            unassign_capability($args['capability'], $args['roleid']);
            accesslib_clear_role_cache($roleid ?? $args["roleid"]);
            $result = ['unassigned' => $args['capability']];
            break;
        case 'service_functions':
            // The functions of the connector's external service (Server > Web services >
            // External services > Functions), replacing those it had.
            $service = $DB->get_record('external_services', ['shortname' => 'upskill'], '*', MUST_EXIST);
            $DB->delete_records('external_services_functions', ['externalserviceid' => $service->id]);
            foreach ($args['functions'] as $function) {
                $DB->insert_record('external_services_functions',
                    (object)['externalserviceid' => $service->id, 'functionname' => $function]);
            }
            $result = ['functions' => $args['functions']];
            break;
        case 'allow_assign':
            // Whether a role may assign the student role (Define roles > Allow role assignments).
            $student = upskill_student_role();
            if ($args['allowed']) {
                core_role_set_assign_allowed($args['roleid'], $student->id);
            } else {
                $DB->delete_records('role_allow_assign',
                    ['roleid' => $args['roleid'], 'allowassign' => $student->id]);
            }
            accesslib_clear_role_cache($args['roleid']);
            $result = ['allowed' => (bool)$args['allowed']];
            break;
        case 'create_course':
            $result = upskill_create_course($args);
            break;
        case 'courses':
            $result = array_values(array_map(fn($c) => upskill_course_row($c->id),
                $DB->get_records_select('course', 'id <> ?', [SITEID], 'id', 'id')));
            break;
        case 'delete_course':
            delete_course(upskill_course($args['course']), false);
            $result = ['deleted' => true];
            break;
        case 'set_manual_enrolment':
            $course = upskill_course($args['course']);
            $instance = $DB->get_record('enrol', ['courseid' => $course->id, 'enrol' => 'manual'], '*', MUST_EXIST);
            enrol_get_plugin('manual')->update_status($instance,
                $args['enabled'] ? ENROL_INSTANCE_ENABLED : ENROL_INSTANCE_DISABLED);
            $result = ['enabled' => (bool)$args['enabled']];
            break;
        case 'enrolments':
            $result = upskill_enrolments($args);
            break;
        case 'add_activities':
            $result = upskill_add_activities($args);
            break;
        case 'complete_activities':
            $result = upskill_complete_activities($args);
            break;
        case 'mark_completed':
            $result = upskill_mark_completed($args);
            break;
        case 'users':
            $result = upskill_users();
            break;
        case 'create_user':
            $result = upskill_create_user($args);
            break;
        case 'delete_user':
            $result = upskill_delete_user($args);
            break;
        case 'update_user':
            $result = upskill_update_user($args);
            break;
        case 'link_cohort':
            $result = upskill_link_cohort($args);
            break;
        case 'cohorts':
            $result = upskill_cohorts();
            break;
        case 'delete_cohort':
            cohort_delete_cohort($DB->get_record('cohort', ['idnumber' => $args['cohort']], '*', MUST_EXIST));
            $result = ['deleted' => true];
            break;
        case 'hand_enrolment':
            $result = upskill_hand_enrolment($args);
            break;
        case 'grade':
            $result = upskill_grade($args);
            break;
        default:
            throw new coding_exception("unknown action $action");
    }
} catch (Throwable $e) {
    echo json_encode(['error' => get_class($e) . ': ' . $e->getMessage()]), "\n";
    exit(1);
}
echo json_encode($result), "\n";

<?php
// This file is part of Moodle - https://moodle.org/
//
// Moodle is free software: you can redistribute it and/or modify
// it under the terms of the GNU General Public License as published by
// the Free Software Foundation, either version 3 of the License, or
// (at your option) any later version.
//
// Moodle is distributed in the hope that it will be useful,
// but WITHOUT ANY WARRANTY; without even the implied warranty of
// MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
// GNU General Public License for more details.
//
// You should have received a copy of the GNU General Public License
// along with Moodle.  If not, see <https://www.gnu.org/licenses/>.

namespace local_upskill\local;

/**
 * The role "Upskill connector": exactly the capabilities the connector needs, in the system
 * context, allowed to assign the student role.
 *
 * @package    local_upskill
 * @copyright  2026 upskill-connector
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class role {
    /** @var string The role's short name. */
    public const SHORTNAME = 'upskillconnector';

    /** @var string[] Every capability the connector uses (its README says what for). */
    public const CAPABILITIES = [
        'webservice/rest:use',
        'moodle/user:viewdetails',
        'moodle/user:viewalldetails',
        'moodle/site:viewuseridentity',
        'moodle/user:viewhiddendetails',
        'moodle/user:create',
        'moodle/user:update',
        'moodle/course:view',
        'moodle/course:viewhiddencourses',
        'moodle/course:viewparticipants',
        'moodle/course:enrolreview',
        'enrol/manual:enrol',
        'enrol/manual:unenrol',
        'moodle/role:assign',
        'report/completion:view',
        'moodle/cohort:view',
        'moodle/cohort:manage',
        'moodle/cohort:assign',
        'local/upskill:read',
    ];

    /**
     * Create the role, or bring an existing one up to these capabilities; never removes any.
     *
     * @return int the role's id
     */
    public static function ensure(): int {
        global $DB;
        $role = $DB->get_record('role', ['shortname' => self::SHORTNAME]);
        if ($role) {
            $roleid = (int)$role->id;
        } else {
            $roleid = (int)create_role(get_string('rolename', 'local_upskill'), self::SHORTNAME,
                get_string('roledescription', 'local_upskill'));
        }
        set_role_contextlevels($roleid, [CONTEXT_SYSTEM]);
        $systemcontext = \context_system::instance();
        foreach (self::CAPABILITIES as $capability) {
            assign_capability($capability, CAP_ALLOW, $roleid, $systemcontext->id, true);
        }
        foreach (get_archetype_roles('student') as $student) {
            if (!$DB->record_exists('role_allow_assign', ['roleid' => $roleid, 'allowassign' => $student->id])) {
                core_role_set_assign_allowed($roleid, $student->id);
            }
        }
        accesslib_clear_role_cache($roleid);
        return $roleid;
    }
}

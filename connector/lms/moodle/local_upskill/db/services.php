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

/**
 * Web-service functions of local_upskill and the ready external service of the connector.
 *
 * @package    local_upskill
 * @copyright  2026 upskill-connector
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

defined('MOODLE_INTERNAL') || die();

$functions = [
    'local_upskill_get_completions' => [
        'classname' => 'local_upskill\external\get_completions',
        'description' => 'Course completion of every learner enrolled in the given courses '
            . '(suspended enrolments included), paged.',
        'type' => 'read',
        'capabilities' => 'local/upskill:read',
    ],
    'local_upskill_get_enrolments' => [
        'classname' => 'local_upskill\external\get_enrolments',
        'description' => 'Every enrolment of the given courses with its status and dates and the '
            . 'learner\'s identifiers, paged.',
        'type' => 'read',
        'capabilities' => 'local/upskill:read',
    ],
];

$services = [
    // Every function the upskill connector calls: a site's set-up is a user with the role
    // "Upskill connector" (created on install) and a token for this service.
    'Upskill connector (local_upskill)' => [
        'functions' => [
            'core_webservice_get_site_info',
            'core_user_get_users_by_field',
            'core_user_get_users',
            'core_user_create_users',
            'core_user_update_users',
            'core_course_get_courses_by_field',
            'enrol_manual_enrol_users',
            'enrol_manual_unenrol_users',
            'core_enrol_get_enrolled_users',
            'core_enrol_get_users_courses',
            'core_completion_get_course_completion_status',
            'core_cohort_create_cohorts',
            'core_cohort_add_cohort_members',
            'core_cohort_delete_cohort_members',
            'core_cohort_search_cohorts',
            'core_cohort_get_cohort_members',
            'local_upskill_get_completions',
            'local_upskill_get_enrolments',
        ],
        'shortname' => 'local_upskill',
        'enabled' => 1,
        'restrictedusers' => 0,
        'downloadfiles' => 0,
        'uploadfiles' => 0,
    ],
];
